import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, readdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `parts` to `path` so that a reader sees either the old file or the whole new one:
 * write a temporary file beside it, fsync it, rename it over `path`, fsync the directory.
 * A process killed at any point leaves at most a stray temporary file, which the next
 * write to the same path removes (once its writer is gone).
 */
export function writeFileAtomic(path: string, parts: readonly Uint8Array[]): void {
  const dir = dirname(path);
  const base = basename(path);
  removeStaleTemps(dir, base);
  const tmp = join(dir, `.${base}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (const p of parts) {
      let off = 0;
      while (off < p.byteLength) off += writeSync(fd, p, off, p.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const TEMP = /^\.(.+)\.tmp-(\d+)-[0-9a-f]+$/;

/** Removes temporary files left in `dir` by dead writers (of `base` only, when given). */
export function removeStaleTemps(dir: string, base?: string): void {
  for (const name of readdirSync(dir)) {
    const m = TEMP.exec(name);
    if (m === null || (base !== undefined && m[1] !== base)) continue;
    const pid = Number(m[2]);
    if (!processAlive(pid)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // Another writer may have removed it first.
      }
    }
  }
}

/** Whether process `pid` runs (one of another user's counts). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
