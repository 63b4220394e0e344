/**
 * How the shell (app.ts) hands a join to the view of its kind: the shell reads the join, the
 * key and the rows, and the view starts its worker and shows what it reports.
 */
export interface PageContext {
  readonly psk: string;
  /** The rows to train (a share file); its buffer is handed to the worker. */
  readonly share: Uint8Array;
  readonly shareName: string;
  readonly wasmPaths: string;
  /** Where the join file came from: the files served beside it are fetched relative to it. */
  readonly joinUrl: URL;
  joined(peerId: string, rows: number): void;
  fail(message: string): void;
}

export type PageRunner<J> = (join: J, ctx: PageContext) => Promise<void>;
