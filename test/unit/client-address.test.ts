import { clientAddress, parseTrustProxy, type TrustProxy } from '../../tracking/client-address';

const trust = (value: string): TrustProxy => {
  const t = parseTrustProxy(value);
  if (t && 'problem' in t) throw new Error(t.problem);
  return t;
};

describe('the client of a tracking request behind proxies (TRUST_PROXY)', () => {
  it('is the socket address without TRUST_PROXY, whatever the header says', () => {
    expect(clientAddress('203.0.113.5', '198.51.100.1', trust(''))).toBe('203.0.113.5');
    expect(clientAddress('203.0.113.5', '198.51.100.1', trust('0'))).toBe('203.0.113.5');
  });

  it('is the address the outermost trusted proxy received from, counted in hops', () => {
    // client → proxy (appends the client) → server
    expect(clientAddress('10.0.0.2', '198.51.100.1', trust('1'))).toBe('198.51.100.1');
    // what a client writes itself stays on the left: it cannot pass for someone else
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.1', trust('1'))).toBe('198.51.100.1');
    // two proxies (a CDN, then a load balancer)
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.1, 172.16.0.9', trust('2'))).toBe('198.51.100.1');
    // more hops than addresses: the leftmost
    expect(clientAddress('10.0.0.2', '198.51.100.1', trust('3'))).toBe('198.51.100.1');
  });

  it('skips the trusted proxy addresses and ranges, from the right', () => {
    const proxies = trust('10.0.0.0/8, 172.16.0.9, ::1');
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.1, 172.16.0.9', proxies)).toBe('198.51.100.1');
    expect(clientAddress('::1', '198.51.100.1', proxies)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:10.0.0.2', '198.51.100.1', proxies)).toBe('198.51.100.1');
    // a request that did not come through a trusted proxy: its header is not believed
    expect(clientAddress('203.0.113.5', '198.51.100.1', proxies)).toBe('203.0.113.5');
  });

  it('refuses a TRUST_PROXY it cannot read, naming the fix', () => {
    expect(parseTrustProxy('yes')).toEqual({ problem: expect.stringContaining('TRUST_PROXY: "yes" is not an address or a CIDR range') });
    expect(parseTrustProxy('10.0.0.0/33')).toEqual({ problem: expect.stringContaining('"10.0.0.0/33"') });
    expect(parseTrustProxy('99')).toEqual({ problem: expect.stringContaining('from 0 to 10') });
  });
});
