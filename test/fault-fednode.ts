/**
 * A test build of `fednode`: the same CLI with fault injection from FEDNODE_FAULT
 * (`kill-after-ack:N`, `kill-after-pull:R`). Only tests run it (through `Cluster.start`'s
 * `faults` option); the installed binary has no way to reach the hook.
 */
import { runCli } from '../packages/node/src/cli-program.js';

process.exitCode = await runCli(process.argv, { fault: process.env.FEDNODE_FAULT });
