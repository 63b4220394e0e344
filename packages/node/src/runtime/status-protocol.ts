/**
 * `/fednode/status/1`: the requester sends one frame, a JSON object `{}` or `{ "run": id }`,
 * and reads one frame, a JSON object with the node's run, roles, peers, round, version, memory
 * and last metrics. It names the run's members and their addresses, so it answers members only
 * (admitted by the run's allowlist or key; a node's operator asks with the node's own key).
 * Anyone else, and any request that is not that object, reads `{ refused, reason }`.
 */
import type { FedHost } from '../net/host.js';
import { FrameReader, abortQuietly, expectFrame, writeFrame } from '../net/frames.js';
import { openStream, type PeerTarget } from '../net/dial.js';
import { NetError } from '../net/errors.js';
import { NOT_ADMITTED, type Admission } from '../net/admission.js';


/** What a decentralised peer reports (`fednode status` on a peer). */
export interface PeerStatus {
  readonly algorithm: string;
  readonly state: string;
  readonly step: number;
  readonly steps: number;
  readonly members: readonly string[];
  readonly lastContributors: number;
  readonly lastLoss: number | null;
  readonly bytesSentPerStep: number | null;
  readonly bytesReceivedLastStep: number | null;
  readonly denseBytesPerStep: number;
  readonly bytesSentTotal: number;
  readonly bytesReceivedTotal: number;
  readonly lastHash: { readonly step: number; readonly hash: string; readonly agree: number; readonly disagree: number } | null;
  readonly heldOut: { readonly step: number; readonly loss: number; readonly accuracy: number } | null;
  /** Bytes held for contributions partly received (bounded per member: see the sync channel). */
  readonly pendingSyncBytes: number;
}

export const STATUS_PROTOCOL = '/fednode/status/1';
const MAX_STATUS_BYTES = 1024 * 1024;
/** A request is `{}` or `{"run": id}`: a run id is at most 128 characters. */
const MAX_REQUEST_BYTES = 256;
export const BAD_STATUS_REQUEST = 'BAD_REQUEST';
export const WRONG_RUN = 'WRONG_RUN';

/** Why `bytes` is not a status request for `runId`, as [code, reason]; null when it is one. */
function requestProblem(bytes: Uint8Array, runId: string): [string, string] | null {
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return [BAD_STATUS_REQUEST, `the request is not UTF-8 JSON: ${(e as Error).message}`];
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [BAD_STATUS_REQUEST, 'the request is not a JSON object'];
  const extra = Object.keys(o).filter((k) => k !== 'run');
  if (extra.length > 0) return [BAD_STATUS_REQUEST, `unknown request field ${JSON.stringify(extra[0])}`];
  const run = (o as { run?: unknown }).run;
  if (run !== undefined && typeof run !== 'string') return [BAD_STATUS_REQUEST, 'run is not a string'];
  if (run !== undefined && run !== runId) return [WRONG_RUN, `this node is in run ${JSON.stringify(runId)}, not ${JSON.stringify(run)}`];
  return null;
}

export interface AggregatorStatus {
  /** The strategy's registry kind. */
  readonly strategy: string;
  /** The round being collected (FedAvg) or the buffer's count of rounds so far (FedBuff). */
  readonly round: number;
  readonly version: number;
  readonly rounds: number;
  /** Updates accepted for the open round or buffer. */
  readonly received: number;
  readonly cohort: number | null;
  readonly deadlineUnixMs: number | null;
  readonly done: boolean;
  readonly lastMetrics: Readonly<Record<string, number>> | null;
}

export interface TrainerStatus {
  readonly shard: number;
  /** The sub-network it trains: `width 0.5`, or `the whole model`. */
  readonly slice: string;
  readonly rows: number;
  /** The last round this trainer contributed to (or gave up), -1 before any. */
  readonly lastRound: number;
  readonly nextSequence: number;
  readonly state: string;
  readonly lastLoss: number | null;
  readonly aggregator: string | null;
}

export interface NodeStatus {
  readonly runId: string;
  readonly peerId: string;
  readonly roles: readonly string[];
  readonly addrs: readonly string[];
  readonly peers: readonly string[];
  readonly uptimeS: number;
  /** The process's memory now: what an operator (or a test of the memory bounds) watches. */
  readonly memory: {
    readonly heapUsedBytes: number;
    /** Buffers outside the JS heap (received messages, tensors' bytes): where a flood would show. */
    readonly externalBytes: number;
    readonly rssBytes: number;
  };
  readonly aggregator?: AggregatorStatus;
  readonly trainer?: TrainerStatus;
  /** A decentralised peer: step, members, bytes per step, last hash check, held-out loss. */
  readonly peer?: PeerStatus;
}

export async function serveStatus(host: FedHost, snapshot: () => NodeStatus, timeoutMs: number, admission: Admission): Promise<() => Promise<void>> {
  await host.handle(
    STATUS_PROTOCOL,
    async (stream, connection) => {
      const reader = new FrameReader(stream, { maxFrameBytes: MAX_REQUEST_BYTES, timeoutMs });
      const answer = async (o: unknown): Promise<void> => {
        await writeFrame(stream, Buffer.from(JSON.stringify(o), 'utf8'), { timeoutMs });
        await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
      };
      try {
        // The run id, members and addresses are for members: anyone else gets the refusal alone.
        const verdict = admission.check(connection);
        if (!verdict.admitted) return await answer({ refused: NOT_ADMITTED, reason: verdict.reason });
        let problem: [string, string] | null;
        try {
          const request = await reader.next();
          problem = request === null ? [BAD_STATUS_REQUEST, 'the stream ended before the request'] : requestProblem(request, snapshot().runId);
        } catch (e) {
          problem = [BAD_STATUS_REQUEST, (e as Error).message];
        }
        await answer(problem === null ? snapshot() : { refused: problem[0], reason: problem[1] });
      } catch (e) {
        abortQuietly(stream, e as Error);
      } finally {
        reader.dispose();
      }
    },
    { maxInboundStreams: 8 },
  );
  return async () => {
    await host.unhandle(STATUS_PROTOCOL).catch(() => undefined);
  };
}

/** Asks `target` for its status; with `runId`, a node of another run refuses (WRONG_RUN). */
export async function fetchStatus(host: FedHost, target: PeerTarget, timeoutMs: number, admission?: Admission, runId?: string): Promise<NodeStatus> {
  const { stream, connection } = await openStream(host, target, STATUS_PROTOCOL, { timeoutMs, ...(admission === undefined ? {} : { admission }) });
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_STATUS_BYTES, timeoutMs });
  try {
    await writeFrame(stream, Buffer.from(JSON.stringify(runId === undefined ? {} : { run: runId }), 'utf8'), { timeoutMs });
    await stream.close({ signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
    const bytes = await expectFrame(reader, 'status');
    let answer: NodeStatus | { refused: string; reason: string };
    try {
      answer = JSON.parse(Buffer.from(bytes).toString('utf8')) as NodeStatus | { refused: string; reason: string };
    } catch (e) {
      throw new NetError('NET_PROTOCOL', `${connection.remotePeer.toString()} sent a status that is not JSON`, { cause: e });
    }
    if ('refused' in answer) throw new NetError('NET_REFUSED', `${connection.remotePeer.toString()} refused the status request: ${answer.reason}`, { remoteCode: answer.refused });
    return answer;
  } catch (e) {
    abortQuietly(stream, e as Error);
    throw e;
  } finally {
    reader.dispose();
  }
}
