/**
 * The run document: one YAML file holds everything a run needs, and every runtime reads it
 * through this loader. `mode` says which runtime it is for: `federated` (the default: an
 * aggregator and trainers) or `decentralised` (peers, no aggregator). A simulator scenario is
 * a federated document plus its population (`sim/scenario.ts`), which daemons ignore.
 */
import { RUN_FILE_SCHEMA, SIMULATION_KEYS, checkRunFile, type RunFile } from './daemon/run-file.js';
import { PEER_RUN_FILE_SCHEMA, checkPeerRunFile, isDecentralised, type PeerRunFile } from './peer/peer-run-file.js';
import { readRunDocument } from './runtime/run-sections.js';

export type RunDocument =
  | { readonly mode: 'federated'; readonly run: RunFile; readonly baseDir: string }
  | { readonly mode: 'decentralised'; readonly run: PeerRunFile; readonly baseDir: string };

/**
 * The document's JSON schema, for editors and other tools: a decentralised run when `mode` says
 * so, else a federated one (whose simulation sections, when present, the simulator checks).
 */
export const RUN_DOCUMENT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'fednode run document',
  if: { type: 'object', required: ['mode'], properties: { mode: { const: 'decentralised' } } },
  then: PEER_RUN_FILE_SCHEMA,
  else: { ...RUN_FILE_SCHEMA, properties: { ...RUN_FILE_SCHEMA.properties, ...Object.fromEntries(SIMULATION_KEYS.map((k) => [k, {}])) } },
};

/** A parsed document checked by the runtime its mode names; `source` names it in errors. */
export function checkRunDocument(value: unknown, source: string, baseDir: string): RunDocument {
  return isDecentralised(value) ? { mode: 'decentralised', run: checkPeerRunFile(value, source), baseDir } : { mode: 'federated', run: checkRunFile(value, source), baseDir };
}

/** Reads, parses and checks a run document (relative paths inside it resolve against its directory). */
export function loadRunDocument(path: string): RunDocument {
  const doc = readRunDocument(path);
  return checkRunDocument(doc.value, path, doc.baseDir);
}
