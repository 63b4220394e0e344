#!/usr/bin/env node
// The `fednode` command. This file sits outside dist/ so that npm can link it when it installs
// the workspace, which happens before the root `prepare` script (tsc -b) has built dist/cli.js.
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

// V8's concurrent marking off (FEDNODE_CONCURRENT_MARKING=1 keeps V8's default). A fednode
// process moves updates as ArrayBuffers outside the JS heap, and each few tens of MiB of them
// starts a major GC; with concurrent marking those cost far more CPU than marking on the main
// thread: a 64 MiB libp2p push took ~25% less receiver CPU, half the sender CPU and ~25% less
// time without it (bench/p2p, which runs both of its sides with the same flag). The flag is not
// allowed in NODE_OPTIONS, and re-executing node would put a second process between whoever
// signals a daemon and the daemon, so it is set here, first thing, before anything else is loaded
// and while no marking can be under way (V8 reads it when a marking cycle starts).
if (process.env.FEDNODE_CONCURRENT_MARKING !== '1' && !process.execArgv.some((a) => a.includes('concurrent-marking'))) {
  setFlagsFromString('--no-concurrent-marking');
}

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('fednode: the CLI is not built yet; run `npm run build` in the repository\n');
  process.exit(1);
}
await import(cli.href);
