/**
 * Errors of the text datasets. Each has a stable `code`; the message is one line that says
 * which corpus, speaker or argument is at fault.
 */
export type TextErrorCode =
  | 'TEXT_MISSING' // a corpus package is not installed, or its files are not where expected
  | 'TEXT_FORMAT' // a corpus file is not what the loader expects
  | 'TEXT_ARGUMENT'; // a bad argument: an unknown speaker, a window longer than the text, a bad fraction

export class TextError extends Error {
  readonly code: TextErrorCode;
  constructor(code: TextErrorCode, message: string) {
    super(message);
    this.name = 'TextError';
    this.code = code;
  }
}
