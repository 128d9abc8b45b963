// Signing secrets rotate: a list of them, the first signs, every one verifies. Links in messages already sent,
// their return paths and Message-IDs keep working while a new secret takes over; the old one is dropped once
// nothing it signed is still due (the tracking period, the bounces: a few weeks).

/** One secret, or a rotation (the signing one first). */
export type Secrets = string | readonly string[];

/** Whether a check holds for one of the secrets (each checked in constant time by the caller). */
export function anyOf(secrets: Secrets, holds: (secret: string) => boolean): boolean {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  let found = false;
  // Every secret is tried, so the time taken does not tell which one signed.
  for (const secret of list) found = holds(secret) || found;
  return found;
}

/**
 * `TRACKING_SECRET=new,old` → the secrets, the signing one first: each at least 16 characters, separated by commas
 * (a secret cannot hold one), no duplicates. An error names what to fix.
 */
export function parseSecretList(value: string, name: string): string[] | { problem: string } {
  const secrets = value.split(',').map((s) => s.trim());
  if (secrets.some((s) => s.length < 16)) {
    return { problem: `${name} must be one secret of at least 16 characters (e.g. \`openssl rand -hex 32\`), or several separated by commas when rotating (the first signs, all verify)` };
  }
  if (new Set(secrets).size !== secrets.length) return { problem: `${name} names the same secret twice` };
  return secrets;
}
