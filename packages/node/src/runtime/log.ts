/**
 * Structured logs: one JSON object a line (`{"t":"2026-..","level":"info","event":"round.closed",...}`),
 * to stderr or a file, so a run can be read back by a program (the end-to-end tests do).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
type LogScalar = string | number | boolean | null;
/** Flat values, lists, and one level of named numbers (accuracy by slice). */
export type LogFields = Readonly<Record<string, LogScalar | readonly (string | number)[] | Readonly<Record<string, number>>>>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
  /** Writes what is buffered and releases the file. */
  close(): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * JSON lines to a file (appended) or to stderr. Each line is written synchronously: a
 * process killed right after logging keeps the line, which is what a crash post-mortem needs.
 */
export function jsonLogger(options: { file?: string; level?: LogLevel; name?: string } = {}): Logger {
  const fd = options.file === undefined ? 2 : openSync(options.file, 'a', 0o644);
  const min = ORDER[options.level ?? 'info'];
  let closed = false;
  return {
    log(level, event, fields = {}) {
      if (closed || ORDER[level] < min) return;
      const line = JSON.stringify({ t: new Date().toISOString(), level, ...(options.name === undefined ? {} : { node: options.name }), event, ...fields }) + '\n';
      try {
        writeSync(fd, line);
      } catch {
        // a closed stderr must not take the node down
      }
    },
    close() {
      if (closed) return;
      closed = true;
      if (fd !== 2) closeSync(fd);
    },
  };
}

/** A logger that drops everything (embedding applications that listen to events instead). */
export const silentLogger: Logger = { log: () => undefined, close: () => undefined };
