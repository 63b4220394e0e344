export type SimErrorCode = 'SIM_SCENARIO' | 'SIM_RUN';

/** A scenario that cannot run (bad file, impossible values) or a run that cannot continue. */
export class SimError extends Error {
  readonly code: SimErrorCode;
  constructor(code: SimErrorCode, message: string) {
    super(message);
    this.name = 'SimError';
    this.code = code;
  }
}
