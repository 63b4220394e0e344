import { Command, CommanderError } from 'commander';
import { EXIT_FAILURE, EXIT_USAGE, UsageError, oneLine } from './cli-support.js';
import { trainCommand } from './commands/train.js';
import { demoCommand, simulateCommand } from './commands/simulate.js';
import { startCommand, type StartOptions } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { keygenCommand } from './commands/keygen.js';
import { mergeCommand } from './commands/merge.js';
import { webCommand } from './commands/web.js';
import { cleanLinksCommand } from './commands/clean-links.js';

export type CliOptions = StartOptions;

/**
 * The `fednode` command. Every failure is one line on stderr: a bad command line exits with
 * code 2, a failure while running with code 1 (set FEDNODE_DEBUG=1 for the stack).
 */

/** Commander's message as one line: its suggestion ("Did you mean ...?") joins the error. */
function errorLine(prefix: string): (str: string, write: (s: string) => void) => void {
  return (str, write) => write(`${prefix}: ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`);
}

function program(options: CliOptions): Command {
  const p = new Command('fednode')
    .description('federated and decentralised training over libp2p')
    .version('0.1.0')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: errorLine('fednode') })
    .exitOverride();
  p.addCommand(demoCommand().exitOverride().configureOutput({ outputError: errorLine('fednode demo') }));
  p.addCommand(simulateCommand().exitOverride().configureOutput({ outputError: errorLine('fednode simulate') }));
  p.addCommand(trainCommand().exitOverride().configureOutput({ outputError: errorLine('fednode train') }));
  p.addCommand(mergeCommand().exitOverride().configureOutput({ outputError: errorLine('fednode merge') }));
  p.addCommand(startCommand(options).exitOverride().configureOutput({ outputError: errorLine('fednode start') }));
  p.addCommand(statusCommand().exitOverride().configureOutput({ outputError: errorLine('fednode status') }));
  p.addCommand(keygenCommand().exitOverride().configureOutput({ outputError: errorLine('fednode keygen') }));
  p.addCommand(webCommand().exitOverride().configureOutput({ outputError: errorLine('fednode web') }));
  p.addCommand(cleanLinksCommand().exitOverride().configureOutput({ outputError: errorLine('fednode clean-links') }));
  return p;
}

/**
 * Runs the CLI on `argv`; returns the exit code. `options` are for test builds only (fault
 * injection): the installed `fednode` binary passes none, so no environment variable or flag
 * can reach them.
 */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  try {
    await program(options).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version requests are not errors; commander already printed what it had to.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`fednode: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`fednode: ${oneLine(err)}\n`);
    if (process.env.FEDNODE_DEBUG === '1' && err instanceof Error && err.stack !== undefined) process.stderr.write(err.stack + '\n');
    return EXIT_FAILURE;
  }
}

