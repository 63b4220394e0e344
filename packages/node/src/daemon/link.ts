/**
 * How a trainer reaches its aggregator: over libp2p (another process), or by calls into the
 * aggregator role of the same process (role `both`). Both answer the same way: a refusal is a
 * NetError NET_REFUSED carrying the aggregator's code.
 */
import { extractSlice, resolveSlice, type ParamSet, type Slice, type Update } from '@fednode/core';
import { NetError, refusalOf } from '../net/errors.js';
import { pullModel } from '../net/model-protocol.js';
import { pushUpdate } from '../net/update-protocol.js';
import { toDialTarget } from '../net/dial.js';
import type { NodeContext } from './context.js';
import type { AggregatorRole } from './aggregator.js';
import { fetchStatus, type AggregatorStatus } from '../runtime/status-protocol.js';

export interface AggregatorLink {
  /** The aggregator's peer id, once known. */
  readonly peer: string | null;
  /** The model at `version`, cut to `slice` (null: all of it). */
  pull(version: number, slice: Slice | null): Promise<{ version: number; round: number; params: ParamSet }>;
  /** Resolves with the version the aggregator acknowledged; NET_REFUSED (with remoteCode) when refused. */
  push(update: Update): Promise<number>;
  /** The aggregator's state, or why it cannot be reached now. */
  status(): Promise<LinkStatus>;
}

export type LinkStatus = { readonly ok: true; readonly status: AggregatorStatus } | { readonly ok: false; readonly reason: string };

/** The peer id inside an address (`.../p2p/<id>`), or the address itself when it is a bare peer id. */
export function peerOfAddress(addr: string): string | null {
  if (!addr.startsWith('/')) return addr;
  const m = /\/p2p\/([^/]+)$/.exec(addr);
  return m === null ? null : m[1];
}

export class RemoteLink implements AggregatorLink {
  private readonly ctx: NodeContext;
  private target: string | null;
  peer: string | null;

  constructor(ctx: NodeContext, address: string | null) {
    this.ctx = ctx;
    this.target = address;
    this.peer = address === null ? null : peerOfAddress(address);
    if (address !== null) toDialTarget(address); // a bad address fails now, with NET_CONFIG
  }

  private where(): string {
    if (this.target === null) throw new NetError('NET_CLOSED', 'the aggregator is not known yet (no address in the run file, no round announcement heard)');
    return this.target;
  }

  async pull(version: number, slice: Slice | null): Promise<{ version: number; round: number; params: ParamSet }> {
    const m = await pullModel(
      this.ctx.host,
      this.where(),
      { runId: this.ctx.run.run, version, slice, codec: 'fp32' },
      { timeoutMs: this.ctx.timeoutMs, admission: this.ctx.admission, limits: this.ctx.limits },
    );
    return { version: m.version, round: m.round, params: m.params };
  }

  async push(update: Update): Promise<number> {
    const ack = await pushUpdate(this.ctx.host, this.where(), update, { timeoutMs: this.ctx.timeoutMs, admission: this.ctx.admission, limits: this.ctx.limits });
    return ack.version;
  }

  async status(): Promise<LinkStatus> {
    if (this.target === null) return { ok: false, reason: 'the aggregator is not known yet (no address in the run file, no round announcement heard)' };
    try {
      const s = (await fetchStatus(this.ctx.host, this.target, Math.min(this.ctx.timeoutMs, 10_000), undefined, this.ctx.run.run)).aggregator;
      return s === undefined ? { ok: false, reason: `${this.target} answers, but runs no aggregator` } : { ok: true, status: s };
    } catch (e) {
      return { ok: false, reason: (e as Error).message.slice(0, 300) };
    }
  }
}

export class LocalLink implements AggregatorLink {
  readonly peer: string;
  private readonly aggregator: AggregatorRole;

  constructor(aggregator: AggregatorRole, self: string) {
    this.aggregator = aggregator;
    this.peer = self;
  }

  async pull(version: number, slice: Slice | null): Promise<{ version: number; round: number; params: ParamSet }> {
    const m = this.aggregator.model(version);
    if (m === null) throw new NetError('NET_REFUSED', `no model version ${version}`, { remoteCode: 'MODEL_NOT_FOUND' });
    return slice === null ? m : { ...m, params: extractSlice(m.params, resolveSlice(slice, m.params.specs)) };
  }

  async push(update: Update): Promise<number> {
    try {
      return this.aggregator.accept(update, this.peer).version;
    } catch (e) {
      this.aggregator.refusedLocal(this.peer, e);
      const { code, reason } = refusalOf(e);
      throw new NetError('NET_REFUSED', `the aggregator refused the update: ${code}: ${reason}`, { remoteCode: code });
    }
  }

  async status(): Promise<LinkStatus> {
    return { ok: true, status: this.aggregator.status() };
  }
}
