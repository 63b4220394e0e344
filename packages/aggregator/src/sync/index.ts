export { DemoSync, DEMO_SYNC_DEFAULTS, type DemoSyncConfig } from './demo.js';
export { DilocoSync, type DilocoShared, type DilocoSyncConfig } from './diloco.js';
export { contributionProblem, peerOrder, type Contributions } from './contributions.js';
