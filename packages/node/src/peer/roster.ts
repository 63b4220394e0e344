/**
 * Who a peer waits for at each synchronisation step. A member contributes from the step it
 * announced (PeerJoin) until it misses a step's timeout; a contribution from someone not on
 * the roster puts it back on (a peer that restarted, or one whose announcement we missed).
 * Waiting is all the roster decides: what a step aggregates is what arrived before the wait
 * ended, so peers that received the same contributions stay bit-identical.
 */
export class Roster {
  /** Member -> the first step it contributes to. */
  private readonly members = new Map<string, number>();

  constructor(readonly self: string) {}

  /** `peer` contributes from `step` on (a later announcement of the same peer wins). */
  join(peer: string, step: number): void {
    this.members.set(peer, step);
  }

  has(peer: string): boolean {
    return this.members.has(peer);
  }

  /** Peers (other than us) whose contribution to `step` we wait for. */
  expected(step: number): string[] {
    return [...this.members].filter(([p, joinStep]) => p !== this.self && joinStep <= step).map(([p]) => p).sort();
  }

  /** Removes `peer` (it missed a step); it comes back by contributing or announcing again. */
  drop(peer: string): void {
    this.members.delete(peer);
  }

  /** Everyone on the roster, ourselves included, sorted. */
  all(): string[] {
    return [...this.members.keys()].sort();
  }
}
