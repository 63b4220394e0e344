/**
 * @fednode/core: everything about a model that is not networking. So far: parameter sets,
 * slices, updates, codecs with error feedback, the wire format and checkpoints.
 */
export * from './portable.js';
export { EncodePool } from './codecs/encode-pool.js';

export { encodeSafetensors, encodeSafetensorsBytes, parseSafetensors, type SafeDType, type SafeFile, type SafeLimits, type SafeTensor } from './checkpoint/safetensors.js';
export { processAlive, writeFileAtomic } from './checkpoint/atomic-file.js';
export {
  CheckpointStore,
  paramSetFromSafetensors,
  paramSetToSafetensors,
  type Checkpoint,
  type CheckpointMeta,
  type CheckpointStoreOptions,
  type StoredDType,
} from './checkpoint/store.js';

/** The training engine (graph builder, op registry with gradients, autodiff, sessions), as one namespace. */
export * as engine from './engine/index.js';
export { EngineError, type EngineErrorCode } from './engine/errors.js';

/** Datasets from installed packages, normalisation, seeded batches and partitioners, as one namespace. */
export * as data from './data/index.js';
export * from './data/index.js';

/** The character transformer, mixtures of experts, supernets and their slices, as one namespace. */
export * as models from './models/index.js';
/** Text corpora (SOTU per president, Moby-Dick), a character vocabulary and LEAF windows, as one namespace. */
export * as text from './text/index.js';

/** Tasks: model family + slice space + data + local training + evaluation, selected by name in every runtime. */
export * as tasks from './tasks/index.js';
export { TaskError, createTask, type Task, type Subnetwork, type SubnetSpec, type PartitionSpec as TaskPartition } from './tasks/index.js';
