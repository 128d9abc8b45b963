// Who a tracking request comes from, behind HTTPS proxies (TRUST_PROXY). Without it, the socket's address: behind a
// proxy, every recipient would share the proxy's. With it, X-Forwarded-For read from the right, where each trusted
// proxy appended the address it received from: the first address not appended by a trusted proxy is the client's.
// Whatever a client writes in the header itself stays on the left, so it cannot pass for someone else.
import { BlockList, isIP } from 'node:net';

/** How many proxies stand in front of the server, or which addresses are proxies; none: the socket's address. */
export type TrustProxy = { hops: number } | { proxies: BlockList } | undefined;

/** `TRUST_PROXY`: a number of hops ("1"), or proxy addresses and CIDR ranges ("10.0.0.0/8,192.168.1.7"); unset, "" or "0": none. */
export function parseTrustProxy(value: string | undefined): TrustProxy | { problem: string } {
  const text = value?.trim() ?? '';
  if (text === '' || text === '0' || text === 'false') return undefined;
  if (/^\d+$/.test(text)) return Number(text) <= 10 ? { hops: Number(text) } : { problem: `TRUST_PROXY must be a number of proxies from 0 to 10, or addresses and CIDR ranges (got "${value}")` };
  const proxies = new BlockList();
  for (const part of text.split(',').map((p) => p.trim())) {
    const [address, prefix] = part.split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
    if (!family || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
      return { problem: `TRUST_PROXY: "${part}" is not an address or a CIDR range (e.g. 10.0.0.0/8); or give a number of proxies` };
    }
    proxies.addSubnet(address, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return { proxies };
}

/** The client's address of a request that reached the server from `socketAddress` with this X-Forwarded-For. */
export function clientAddress(socketAddress: string, forwardedFor: string | string[] | undefined, trust: TrustProxy): string {
  if (!trust || forwardedFor === undefined) return socketAddress;
  const chain = [...(Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((a) => a.trim()).filter(Boolean), socketAddress];
  if ('hops' in trust) return chain[Math.max(0, chain.length - 1 - trust.hops)];
  for (let i = chain.length - 1; i > 0; i--) if (!isTrusted(trust.proxies, chain[i])) return chain[i];
  return chain[0];
}

function isTrusted(proxies: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && proxies.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
