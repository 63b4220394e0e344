/**
 * Typed errors of the daemon. `code` is stable: the CLI prints one line with it, tests and
 * embedding applications match on it.
 */
export type DaemonErrorCode =
  | 'RUN_FILE' // the run file is unreadable, not YAML, or breaks the schema or its rules
  | 'DAEMON_CONFIG' // options that do not fit together (a trainer without an aggregator address, a bad shard)
  | 'DAEMON_STATE' // the data directory holds state of another run, or state that cannot be read
  | 'WAL_IO'; // the write-ahead log could not be written or synced

export class DaemonError extends Error {
  readonly code: DaemonErrorCode;
  constructor(code: DaemonErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DaemonError';
    this.code = code;
  }
}
