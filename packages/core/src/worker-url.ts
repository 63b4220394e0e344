import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CoreError } from './errors.js';

/**
 * The URL of a compiled worker module next to `fromModuleUrl`. Node 20 cannot start a
 * TypeScript file as a worker (even under tsx), so code running from `src/` uses the
 * `dist/` build of the same file.
 */
export function compiledWorkerUrl(fromModuleUrl: string, file: string): URL {
  const here = new URL(file, fromModuleUrl);
  if (existsSync(fileURLToPath(here))) return here;
  const dist = new URL(file, fromModuleUrl.replace(/\/src\/((?:[^/]+\/)*)[^/]+$/, '/dist/$1x'));
  if (existsSync(fileURLToPath(dist))) return dist;
  throw new CoreError('PARAMS_LAYOUT', `compiled worker ${fileURLToPath(dist)} is missing: run \`npm run build\``);
}
