import { InvalidArgumentError } from 'commander';

/**
 * Shared pieces of the `fednode` CLI: option parsers that reject bad values with one line
 * (commander turns them into a usage error, exit code 2), and the error type commands throw
 * for problems found after parsing.
 */

/** Exit codes: 1 for a failure while running, 2 for a bad command line. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A usage problem that commander's parsers cannot see (combinations of flags). */
export class UsageError extends Error {
  readonly code = 'CLI_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

/** A seed: an integer in [0, 2^32 - 1] (the kernels' Rng takes 32 bits). */
export function seed(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError('must be an integer from 0 to 4294967295.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number.');
  return n;
}

/** One line for any error: its message, without a stack. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0];
}

/** A repeatable `key=n` model size (`--model-size dModel=64`), collected into one object. */
export function modelSize(value: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Za-z]+)=(\d+)$/.exec(value.trim());
  if (m === null) throw new InvalidArgumentError('must be key=integer, e.g. dModel=64.');
  return { ...previous, [m[1]]: Number(m[2]) };
}
