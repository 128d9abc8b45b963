// Email address checks used for senders and recipients.

// Deliberately strict: one @, a dot-atom local part, a domain of LDH labels
// (IDN domains must arrive in punycode), no spaces or control characters.
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export function isValidAddress(address: string): boolean {
  if (address.length > 254) return false;
  const local = address.slice(0, address.lastIndexOf('@'));
  if (local.length === 0 || local.length > 64 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  return ADDRESS.test(address);
}

/** The domain part, lower-cased (what domain filters and per-domain caps compare). */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Key used to detect duplicate addresses: domains are case-insensitive, and so are local parts in practice. */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

/** A profile's stored address key: "" when the address is missing or invalid (such a profile is never targeted). */
export function profileAddressKey(email: string): string {
  const trimmed = email.trim();
  return isValidAddress(trimmed) ? addressKey(trimmed) : '';
}
