/**
 * `/fednode/status/1`: the requester opens a stream and reads one frame, a JSON object with
 * the node's run, roles, peers, round, version and last metrics. It names the run's members
 * and their addresses, so it answers members only (admitted by the run's allowlist or key; a
 * node's operator asks with the node's own key): anyone else reads `{ refused, reason }`.
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
      try {
        // The run id, members and addresses are for members: anyone else gets the refusal alone.
        const verdict = admission.check(connection);
        const answer = verdict.admitted ? snapshot() : { refused: NOT_ADMITTED, reason: verdict.reason };
        await writeFrame(stream, Buffer.from(JSON.stringify(answer), 'utf8'), { timeoutMs });
        await stream.close({ signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        abortQuietly(stream, e as Error);
      }
    },
    { maxInboundStreams: 8 },
  );
  return async () => {
    await host.unhandle(STATUS_PROTOCOL).catch(() => undefined);
  };
}

/** Asks `target` for its status. */
export async function fetchStatus(host: FedHost, target: PeerTarget, timeoutMs: number, admission?: Admission): Promise<NodeStatus> {
  const { stream, connection } = await openStream(host, target, STATUS_PROTOCOL, { timeoutMs, ...(admission === undefined ? {} : { admission }) });
  const reader = new FrameReader(stream, { maxFrameBytes: MAX_STATUS_BYTES, timeoutMs });
  try {
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
