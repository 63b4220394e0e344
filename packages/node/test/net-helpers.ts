/** Shared pieces of the network tests: hosts that are always stopped, and sample updates. */
import { ParamSet, encodeUpdate, fullSlice, type Update } from '@fednode/core';
import { createHost, type FedHost, type HostOptions } from '../src/net/index.js';

/** Runs `fn` with `n` started hosts on 127.0.0.1 and stops them all, whatever happens. */
export async function withHosts<T>(n: number, fn: (hosts: FedHost[]) => Promise<T>, options: HostOptions = {}): Promise<T> {
  const hosts: FedHost[] = [];
  try {
    for (let i = 0; i < n; i++) hosts.push(await createHost(options));
    return await fn(hosts);
  } finally {
    await Promise.all(hosts.map((h) => Promise.resolve(h.stop()).catch(() => undefined)));
  }
}

/** A model of one matrix and one bias, `elements` values in all. */
export function sampleModel(elements = 1000, seed = 1): ParamSet {
  const cols = 10;
  const rows = Math.max(1, Math.floor((elements - cols) / cols));
  const p = ParamSet.zeros([
    { name: 'w', shape: [rows, cols] },
    { name: 'b', shape: [cols] },
  ]);
  let s = seed >>> 0;
  for (let i = 0; i < p.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    p.data[i] = s / 2 ** 32 - 0.5;
  }
  return p;
}

/** An fp32 update over the whole of `delta`, claiming `sender` (which receivers must ignore). */
export function sampleUpdate(delta: ParamSet, fields: Partial<Pick<Update, 'sender' | 'round' | 'sequence' | 'baseVersion'>> = {}): Update {
  return encodeUpdate(
    { runId: 'run-net', sender: fields.sender ?? 'claimed-sender', baseVersion: fields.baseVersion ?? 3, round: fields.round ?? 2, sequence: fields.sequence ?? 1, examples: 64, metrics: { loss: 0.5 } },
    fullSlice(delta.specs),
    delta,
    { codec: 'fp32' },
  );
}
