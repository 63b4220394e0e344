import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '../cli-support.js';

/** `fednode keygen --out FILE`: a new Ed25519 identity (mode 0600); prints its peer id. */
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('create an Ed25519 node identity (written with mode 0600) and print its peer id')
    .requiredOption('--out <file>', 'where to write the identity')
    .option('--force', 'replace an existing file', false)
    .action(async (flags: { out: string; force: boolean }) => {
      if (existsSync(flags.out) && !flags.force) throw new UsageError(`${flags.out} exists; pass --force to replace it (its peer id would change)`);
      // libp2p's key code loads only when a key is made (not for --help or a bad flag).
      const { generateIdentity, saveIdentity } = await import('../net/identity.js');
      const peerId = saveIdentity(flags.out, await generateIdentity());
      process.stdout.write(`${peerId}\n`);
    });
}
