#!/usr/bin/env node
// The `fednode` command. This file sits outside dist/ so that npm can link it when it installs
// the workspace, which happens before the root `prepare` script (tsc -b) has built dist/cli.js.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('fednode: the CLI is not built yet; run `npm run build` in the repository\n');
  process.exit(1);
}
await import(cli.href);
