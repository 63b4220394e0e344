/**
 * Errors of the data loaders and partitioners. Each has a stable `code`; the message is one
 * line that says what is missing or wrong and, where there is one, how to fix it.
 */
export type DataErrorCode =
  | 'DATA_MISSING' // a dataset's files are not installed
  | 'DATA_FORMAT' // a file that is not what it claims (bad idx header, truncated data)
  | 'DATA_ARGUMENT'; // a bad argument: batch size, client count, alpha, indices

export class DataError extends Error {
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string) {
    super(message);
    this.name = 'DataError';
    this.code = code;
  }
}
