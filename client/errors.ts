/** Bad input from a user or a script: the CLI prints the message (and exits 2), nothing was changed. */
export class InputError extends Error {
  constructor(message: string, readonly code: string = 'INVALID_INPUT') {
    super(message);
    this.name = 'InputError';
  }
}
