/**
 * A problem with a merge's inputs or recipe (a mismatched tensor, an unknown task, an option
 * out of range), found after the command line parsed: `fednode merge` prints its message as
 * one line and exits with code 1.
 */
export class MergeCommandError extends Error {
  readonly code = 'MERGE_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'MergeCommandError';
  }
}
