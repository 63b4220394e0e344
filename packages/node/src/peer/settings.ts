/**
 * What a run document says about a peer's steps, in numbers: the daemon resolves them from
 * the document (`peerRoleSettings`), a browser peer gets them resolved in its join.
 */
export interface PeerRoleSettings {
  readonly runId: string;
  /** Synchronisation steps of the run. */
  readonly steps: number;
  /** How long a step waits for the members' contributions, ms. */
  readonly timeoutMs: number;
  readonly minPeers: number;
  readonly hashEvery: number;
  readonly evalEvery: number | null;
  /** How long a finished peer stays for late pulls and the others' last hashes, ms. */
  readonly lingerMs: number;
}
