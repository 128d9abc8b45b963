// Opens no reader made: Apple Mail Privacy Protection fetches every pixel through Apple's proxies when the message
// arrives, security gateways and link scanners fetch it to inspect the message. They inflate open rates, and an
// A/B test decided by opens must leave them out. Recognized here by who asks; the other sign, an open within seconds
// of the sending, is judged where both times are known (store/ab-tallies.ts).

/** An open this soon after its message was sent is a machine's: no reader is that quick, a gateway or a prefetch is. */
export const MACHINE_OPEN_WITHIN_MS = 10_000;

/** Mail security gateways and scripted clients, by their user agent. */
const SCANNER = /(barracuda|mimecast|proofpoint|messagelabs|symantec|trend ?micro|forcepoint|sophos|fortinet|cisco|ironport|zscaler|safelinks|python|curl|wget|go-http-client|java\/|okhttp|headless|phantomjs|bot\b|spider|crawler|scanner)/i;

/**
 * Whether a pixel fetch comes from a machine: no user agent, Apple's privacy proxy (its bare "Mozilla/5.0", from
 * Apple's 17.0.0.0/8), or a scanner's user agent.
 */
export function isMachineOpen(userAgent: string | undefined, clientAddress: string): boolean {
  const ua = (userAgent ?? '').trim();
  if (ua === '' || SCANNER.test(ua)) return true;
  return ua === 'Mozilla/5.0' || isAppleAddress(clientAddress);
}

function isAppleAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^17\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
