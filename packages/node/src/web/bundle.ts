import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Plugin } from 'esbuild';

/**
 * Bundles a browser entry (a page's script) with esbuild. Platform seams: a module `x.js`
 * with a sibling `x.browser.js` (or `.ts`) is replaced by it, so files, worker threads and
 * onnxruntime-node never reach the page; anything else that imports `node:*` fails the build
 * with esbuild's "could not resolve" error, which names the importing file. Packages resolve
 * with the "browser" condition, so `@fednode/core` and `@fednode/node` give their browser entries.
 */

const SWAPPING = Symbol('fednode-platform-seams');

const platformSeams: Plugin = {
  name: 'fednode-platform-seams',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === SWAPPING) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: SWAPPING });
      if (r.errors.length > 0) return undefined;
      const sibling = r.path.replace(/\.(js|ts)$/, '.browser.$1');
      return sibling !== r.path && existsSync(sibling) ? { path: sibling } : { path: r.path, sideEffects: r.sideEffects };
    });
  },
};

/** The compiled shim beside this module (dist/web/buffer-shim.js), or its source under tsx. */
const BUFFER_SHIM = fileURLToPath(new URL(`./buffer-shim.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export interface BundleOptions {
  /** The page's script (TypeScript or JavaScript). */
  entry: string;
  outfile: string;
  minify?: boolean;
}

export interface Bundle {
  readonly file: string;
  readonly bytes: number;
}

export async function bundleBrowserEntry(opts: BundleOptions): Promise<Bundle> {
  // Loaded when a bundle is made, not whenever the CLI starts.
  const { build } = await import('esbuild');
  await build({
    entryPoints: [opts.entry],
    outfile: opts.outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    loader: { '.proto': 'text' },
    // Buffer comes from the `buffer` package (buffer-shim.ts); `global` is Node's name for globalThis.
    inject: [BUFFER_SHIM],
    define: { global: 'globalThis' },
    plugins: [platformSeams],
    logLevel: 'silent',
  });
  return { file: opts.outfile, bytes: statSync(opts.outfile).size };
}

/** The folder holding onnxruntime-web's .wasm and .mjs files, which a page's server must serve. */
export function onnxruntimeWebDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}
