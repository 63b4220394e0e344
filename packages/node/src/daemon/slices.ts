/**
 * Which part of the model each trainer trains (HeteroFL on the MLP supernet): the run file's
 * `slices` section names capabilities (a width, optionally a depth) and assigns them, or a
 * slice outright, to peers by peer id or by trainer name. A trainer derives its own slice from
 * the same file; the aggregator derives what each peer may push, so a peer listed by its
 * (authenticated) peer id can push only its slice, and any other peer only a slice the file
 * names. Names and capabilities are claims a trainer makes about itself: the aggregator cannot
 * tell one trainer's name from another's, so it holds unlisted peers to the file's set.
 */
import { fullSlice, resolveSlice, type ResolvedSlice, type Slice, type Task, type TensorSpec, type SubnetSpec } from '@fednode/core';
import { int, obj } from '../schema-parts.js';
import { DaemonError } from '../runtime/errors.js';

/** A sub-network of the task's model: any of width (0, 1], depth, heads and experts, as the task slices. */
export type SliceSpec = SubnetSpec;

/** A slice spec, or the name of a capability under `slices.capabilities`. */
export type SliceRef = string | SliceSpec;

export interface RunSlices {
  /** Capability name -> the sub-network a trainer of that capability trains (`--capability NAME`). */
  readonly capabilities?: Readonly<Record<string, SliceSpec>>;
  /** Peer id or trainer name (`--name NAME`) -> its capability or sub-network. */
  readonly peers?: Readonly<Record<string, SliceRef>>;
  /**
   * By data share: the trainer of share i (and the simulator's client i) trains
   * byShare[i mod length], unless slices.peers names it. A mix of capabilities over many
   * shares, written once.
   */
  readonly byShare?: readonly SliceRef[];
  /** What a trainer with no assignment trains (default the whole model). */
  readonly default?: SliceRef;
}

/** The part of the run file this module reads. */
interface SlicedRun {
  readonly slices?: RunSlices;
}

const SPEC_SCHEMA = obj([], {
  width: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  depth: int(1),
  heads: int(1),
  experts: { type: 'array', minItems: 1, uniqueItems: true, items: int(0) },
});
const REF_SCHEMA = { oneOf: [{ type: 'string', minLength: 1 }, SPEC_SCHEMA] };

export const SLICES_SCHEMA = obj([], {
  capabilities: { type: 'object', minProperties: 1, additionalProperties: SPEC_SCHEMA },
  peers: { type: 'object', additionalProperties: REF_SCHEMA },
  byShare: { type: 'array', minItems: 1, items: REF_SCHEMA },
  default: REF_SCHEMA,
});

/** A slice as a trainer trains it and the aggregator checks it, with the words logs and refusals use. */
export interface AssignedSlice {
  /** The normalised request (what the task's `subnet` takes). */
  readonly spec: SliceSpec;
  /** Null for the whole model (whatever its tensors): nothing to cut. */
  readonly slice: Slice | null;
  /** `width 0.5`, `width 0.5, depth 1`, `experts 0,2`, or `the whole model`. */
  readonly label: string;
  /** Where it came from: `capability small`, `slices.peers`, `slices.default`, `no slices section`. */
  readonly source: string;
}

function isWhole(a: AssignedSlice): boolean {
  return a.slice === null;
}

function sameSpec(a: AssignedSlice, b: AssignedSlice): boolean {
  return a.label === b.label;
}

function assigned(task: Task, spec: SliceSpec, source: string): AssignedSlice {
  let sub;
  try {
    sub = task.subnet(spec);
  } catch (e) {
    throw new DaemonError('DAEMON_CONFIG', `${source}: ${(e as Error).message}`);
  }
  return { spec: sub.spec, slice: sub.slice, label: sub.label, source };
}

/** A reference resolved through the capabilities; `source` names what assigned it. */
function deref(run: SlicedRun, task: Task, ref: SliceRef, source: string): AssignedSlice {
  if (typeof ref !== 'string') return assigned(task, ref, source);
  const spec = run.slices?.capabilities?.[ref];
  if (spec === undefined) throw new DaemonError('DAEMON_CONFIG', `${source}: no capability "${ref}" under slices.capabilities`);
  return assigned(task, spec, `capability ${ref}`);
}

/** The rules the schema cannot say; each problem is pushed as one line naming its path. */
export function checkSlices(run: SlicedRun & { readonly strategy: { readonly kind: string; readonly robust?: unknown; readonly dp?: unknown } }, task: Task, problems: string[]): void {
  const s = run.slices;
  if (s === undefined) return;
  const caps = Object.keys(s.capabilities ?? {});
  const specs: [string, SliceSpec][] = Object.entries(s.capabilities ?? {}).map(([k, v]) => [`slices.capabilities.${k}`, v]);
  const refs: [string, SliceRef][] = [
    ...Object.entries(s.peers ?? {}).map(([k, v]): [string, SliceRef] => [`slices.peers.${k}`, v]),
    ...(s.byShare ?? []).map((v, i): [string, SliceRef] => [`slices.byShare[${i}]`, v]),
    ...(s.default === undefined ? [] : [['slices.default', s.default] as [string, SliceRef]]),
  ];
  for (const [path, ref] of refs) {
    if (typeof ref !== 'string') specs.push([path, ref]);
    else if (!caps.includes(ref)) problems.push(`${path}: no capability "${ref}" under slices.capabilities${caps.length > 0 ? ` (known: ${caps.join(', ')})` : ''}`);
  }
  let sliced = false;
  for (const [path, spec] of specs) {
    try {
      if (task.subnet(spec).slice !== null) sliced = true;
    } catch (e) {
      problems.push(`${path}: ${(e as Error).message}`);
    }
  }
  if (sliced && (run.strategy.robust !== undefined || run.strategy.dp !== undefined)) {
    problems.push('slices below the whole model send sliced updates, which strategy.robust and strategy.dp cannot combine');
  }
}

/** Who a trainer says it is and what it says it can do. */
export interface TrainerIdentity {
  readonly peerId: string;
  /** Its name (`--name`), looked up under slices.peers when its peer id is not there. */
  readonly name?: string;
  /** Its capability (`--capability`), a name under slices.capabilities. */
  readonly capability?: string;
  /** Its data share, looked up under slices.byShare when neither its peer id nor its name is listed. */
  readonly share?: number;
}

/**
 * The slice a trainer trains: its peer id's entry, else its name's, else its capability, else
 * slices.default, else the whole model. A capability that contradicts the trainer's entry is
 * a configuration error here, not a refused update later.
 */
export function trainerSlice(run: SlicedRun, task: Task, who: TrainerIdentity): AssignedSlice {
  const s = run.slices;
  if (s === undefined && who.capability !== undefined) {
    throw new DaemonError('DAEMON_CONFIG', `--capability ${who.capability}: the run file has no slices section, so every trainer trains ${task.name} whole`);
  }
  let cap: AssignedSlice | undefined;
  if (who.capability !== undefined) {
    const known = Object.keys(s?.capabilities ?? {});
    if (!known.includes(who.capability)) {
      throw new DaemonError('DAEMON_CONFIG', `capability "${who.capability}" is not under slices.capabilities (${known.length > 0 ? `known: ${known.join(', ')}` : 'the run file defines none'})`);
    }
    cap = deref(run, task, who.capability, 'capability');
  }
  const byPeer = s?.peers?.[who.peerId];
  const byName = who.name === undefined ? undefined : s?.peers?.[who.name];
  const byShare = s?.byShare === undefined || who.share === undefined ? undefined : { ref: s.byShare[who.share % s.byShare.length], path: `slices.byShare[${who.share % s.byShare.length}]` };
  const entry =
    byPeer !== undefined ? { ref: byPeer, path: `slices.peers.${who.peerId}` } : byName !== undefined ? { ref: byName, path: `slices.peers.${who.name!}` } : byShare !== undefined ? byShare : null;
  if (entry !== null) {
    const a = deref(run, task, entry.ref, entry.path);
    const mine = typeof entry.ref === 'string' ? a : { ...a, source: entry.path };
    if (cap !== undefined && !sameSpec(cap, mine)) {
      throw new DaemonError('DAEMON_CONFIG', `--capability ${who.capability} (${cap.label}) contradicts ${entry.path} (${mine.label}): the aggregator would refuse its updates`);
    }
    return mine;
  }
  if (cap !== undefined) return cap;
  if (s?.default !== undefined) {
    const d = deref(run, task, s.default, 'slices.default');
    return typeof s.default === 'string' ? d : { ...d, source: 'slices.default' };
  }
  return assigned(task, {}, 'no assignment');
}

/** Two resolved slices hold the same elements in the same local order. */
function sameElements(a: ResolvedSlice, b: ResolvedSlice): boolean {
  if (a.tensors.length !== b.tensors.length) return false;
  return a.tensors.every((t, i) => {
    const u = b.tensors[i];
    if (t.name !== u.name || t.localShape.length !== u.localShape.length || t.localShape.some((d, k) => d !== u.localShape[k])) return false;
    if (t.whole && u.whole) return true;
    const x = t.indexMap;
    const y = u.indexMap;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
    return true;
  });
}

export type SliceVerdict = { readonly ok: true; readonly slice: AssignedSlice } | { readonly ok: false; readonly reason: string };

/**
 * What each peer may push, for the aggregator: a peer listed by peer id, its slice; any other
 * peer, one of the slices the run file names (slices.default, or the whole model without one,
 * the capabilities, and the entries of slices.peers, since a name proves nothing).
 */
export class SlicePolicy {
  private readonly task: Task;
  private readonly byPeer = new Map<string, { a: AssignedSlice; r: ResolvedSlice }>();
  private readonly open: { a: AssignedSlice; r: ResolvedSlice }[] = [];

  constructor(run: SlicedRun, task: Task, specs: readonly TensorSpec[]) {
    this.task = task;
    const resolved = (a: AssignedSlice) => ({ a, r: resolveSlice(a.slice ?? fullSlice(specs), specs) });
    const offer = (a: AssignedSlice): void => {
      if (!this.open.some((o) => sameSpec(o.a, a))) this.open.push(resolved(a));
    };
    const s = run.slices;
    // What a trainer with no assignment trains: the default, or the whole model.
    offer(trainerSlice(run, task, { peerId: '' }));
    for (const name of Object.keys(s?.capabilities ?? {})) offer(deref(run, task, name, 'capability'));
    // A share index is a claim too: any byShare entry is open to an unlisted peer.
    (s?.byShare ?? []).forEach((ref, i) => {
      const a = deref(run, task, ref, `slices.byShare[${i}]`);
      offer(typeof ref === 'string' ? a : { ...a, source: `slices.byShare[${i}]` });
    });
    for (const [key, ref] of Object.entries(s?.peers ?? {})) {
      const a = deref(run, task, ref, `slices.peers.${key}`);
      const mine = typeof ref === 'string' ? a : { ...a, source: `slices.peers.${key}` };
      offer(mine);
      this.byPeer.set(key, resolved(mine));
    }
  }

  /** The words for a slice: its label when the run file names it, else its local shapes. */
  private describe(r: ResolvedSlice): string {
    const known = this.open.find((o) => sameElements(o.r, r));
    if (known !== undefined) return `${known.a.label} (${known.a.source})`;
    const shapes = r.tensors.map((t) => `${t.name} [${t.localShape.join(', ')}]`).join(', ');
    return `a slice the run file does not name (${shapes})`;
  }

  check(peer: string, r: ResolvedSlice): SliceVerdict {
    const mine = this.byPeer.get(peer);
    if (mine !== undefined) {
      if (sameElements(mine.r, r)) return { ok: true, slice: mine.a };
      return { ok: false, reason: `${peer} is assigned ${mine.a.label} (${mine.a.source}); the update holds ${this.describe(r)}` };
    }
    const hit = this.open.find((o) => sameElements(o.r, r));
    if (hit !== undefined) return { ok: true, slice: hit.a };
    const offered = this.open.map((o) => `${o.a.label} (${o.a.source})`).join(', ');
    const what = this.task.sliceAxes.length === 0 ? `${this.task.name} is trained whole` : `a peer not listed by peer id under slices.peers may train ${offered}`;
    return { ok: false, reason: `the update holds ${this.describe(r)}; ${what}` };
  }

  /** The distinct sub-networks the run trains below the whole model (for per-width evaluation). */
  partial(): readonly AssignedSlice[] {
    return this.open.map((o) => o.a).filter((a) => !isWhole(a));
  }
}
