/**
 * Who a peer waits for at each synchronisation step. A member contributes from the step it
 * announced (PeerJoin) until it misses a step's timeout; a contribution from someone not on
 * the roster puts it back on (a peer that restarted, or one whose announcement we missed).
 * Waiting is all the roster decides: what a step aggregates is what arrived before the wait
 * ended, so peers that received the same contributions stay bit-identical.
 */
export interface Member {
  readonly joinStep: number;
  /** Last time (ms) we heard from it: a contribution, a heartbeat or a join. */
  lastSeenMs: number;
}

export class Roster {
  private readonly members = new Map<string, Member>();

  constructor(readonly self: string) {}

  /** `peer` contributes from `step` on (a later announcement of the same peer wins). */
  join(peer: string, step: number, nowMs: number): void {
    this.members.set(peer, { joinStep: step, lastSeenMs: nowMs });
  }

  seen(peer: string, nowMs: number): void {
    const m = this.members.get(peer);
    if (m !== undefined) m.lastSeenMs = nowMs;
  }

  has(peer: string): boolean {
    return this.members.has(peer);
  }

  /** Peers (other than us) whose contribution to `step` we wait for. */
  expected(step: number): string[] {
    return [...this.members].filter(([p, m]) => p !== this.self && m.joinStep <= step).map(([p]) => p).sort();
  }

  /** Removes `peer` (it missed a step); it comes back by contributing or announcing again. */
  drop(peer: string): void {
    this.members.delete(peer);
  }

  /** Everyone on the roster, ourselves included, sorted. */
  all(): string[] {
    return [...this.members.keys()].sort();
  }

  /** Peers that joined at `step` or earlier whose last sign of life is older than `staleMs`. */
  stale(nowMs: number, staleMs: number): string[] {
    return [...this.members].filter(([p, m]) => p !== this.self && nowMs - m.lastSeenMs > staleMs).map(([p]) => p);
  }
}
