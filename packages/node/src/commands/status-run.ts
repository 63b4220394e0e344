import { createHost } from '../net/host.js';
import { Admission } from '../net/admission.js';
import { loadIdentity } from '../net/identity.js';
import { networkKeyOf } from '../net/private-network.js';
import { readPsk } from '../runtime/run-sections.js';
import { fetchStatus, type NodeStatus } from '../runtime/status-protocol.js';
import { loadRunDocument } from '../run-document.js';

/**
 * What `fednode status` runs once its flags are parsed (commands/status.ts), loaded only then:
 * a throwaway libp2p client that asks the node and prints its answer.
 */

export interface StatusFlags {
  connect: string;
  config?: string;
  key?: string;
  json: boolean;
  timeout: number;
}

export async function askStatus(flags: StatusFlags): Promise<void> {
  const doc = flags.config === undefined ? null : loadRunDocument(flags.config);
  const psk = doc === null ? undefined : readPsk(doc.run, doc.baseDir);
  const host = await createHost({
    ...(flags.key === undefined ? {} : { privateKey: loadIdentity(flags.key) }),
    ...(psk === undefined || doc === null ? {} : { networkKey: networkKeyOf(psk, doc.run.run) }),
  });
  const admission = psk === undefined ? undefined : new Admission(host, { psk });
  try {
    await admission?.start();
    const s = await fetchStatus(host, flags.connect, flags.timeout * 1000, admission, doc?.run.run);
    process.stdout.write(flags.json ? JSON.stringify(s) + '\n' : describe(s));
  } finally {
    await admission?.stop();
    await Promise.resolve(host.stop()).catch(() => undefined);
  }
}

function describe(s: NodeStatus): string {
  const lines = [`run ${s.runId}  peer ${s.peerId}  roles ${s.roles.join(', ')}  up ${s.uptimeS} s`, `peers (${s.peers.length}): ${s.peers.join(' ') || '-'}`, `memory: heap ${mib(s.memory.heapUsedBytes)}, buffers ${mib(s.memory.externalBytes)}, resident ${mib(s.memory.rssBytes)}`];
  const a = s.aggregator;
  if (a !== undefined) {
    const deadline = a.deadlineUnixMs === null ? '' : `, deadline in ${Math.max(0, Math.round((a.deadlineUnixMs - Date.now()) / 1000))} s`;
    lines.push(
      `aggregator: ${a.strategy}, version ${a.version} of ${a.rounds}, round ${a.round} with ${a.received}${a.cohort === null ? '' : `/${a.cohort}`} updates${deadline}${a.done ? ', run complete' : ''}`,
    );
    if (a.lastMetrics !== null) lines.push(`last metrics: ${Object.entries(a.lastMetrics).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(', ')}`);
  }
  const t = s.trainer;
  if (t !== undefined) {
    lines.push(`trainer: share ${t.shard} (${t.rows} rows), ${t.state}, last round ${t.lastRound}, next sequence ${t.nextSequence}${t.lastLoss === null ? '' : `, last loss ${t.lastLoss.toFixed(4)}`}`);
  }
  const p = s.peer;
  if (p !== undefined) {
    lines.push(`peer: ${p.algorithm}, ${p.state}, step ${p.step} of ${p.steps}, ${p.members.length} member(s), ${p.lastContributors} contribution(s) at the last step${p.lastLoss === null ? '' : `, last loss ${p.lastLoss.toFixed(4)}`}`);
    if (p.bytesSentPerStep !== null) {
      lines.push(`bytes: ${p.bytesSentPerStep} sent and ${p.bytesReceivedLastStep ?? 0} received at the last step (dense fp32 ${p.denseBytesPerStep}, ${(p.denseBytesPerStep / p.bytesSentPerStep).toFixed(1)}x less); ${p.bytesSentTotal} sent, ${p.bytesReceivedTotal} received in all`);
    }
    if (p.lastHash !== null) lines.push(`hash at step ${p.lastHash.step}: ${p.lastHash.hash.slice(0, 16)}, ${p.lastHash.agree} agree, ${p.lastHash.disagree} differ`);
    if (p.pendingSyncBytes > 0) lines.push(`held for partly received contributions: ${mib(p.pendingSyncBytes)}`);
    if (p.heldOut !== null) lines.push(`held-out at step ${p.heldOut.step}: loss ${p.heldOut.loss.toFixed(4)}, accuracy ${p.heldOut.accuracy.toFixed(4)}`);
  }
  return lines.join('\n') + '\n';
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
