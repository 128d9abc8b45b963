/** Bad input from a user or a script: the CLI prints the message (and exits 2), nothing was changed. */
export class InputError extends Error {
  constructor(message: string, readonly code: string = 'INVALID_INPUT') {
    super(message);
    this.name = 'InputError';
  }
}

/** A `--option <n>` value that must be a whole number (at least `min`). */
export function wholeNumber(option: string, v: string, min = 0): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InputError(`${option} must be a whole number${min ? ` of at least ${min}` : ''} (got "${v}")`);
  return Number(v);
}
