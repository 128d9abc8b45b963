// The provider of each recipient domain, as one sending attempt needs it: synchronously, per message. Domains of a
// claimed batch are resolved before its messages go (the database's resolutions, else DNS, then kept for a week).
import { Resolver } from 'node:dns/promises';
import { providerOf, type DomainProvider } from '../../domain/providers';
import type { mailDomains } from '../../store/mail-domains';

export type MxLookup = (domain: string) => Promise<string[] | undefined>;

/** DNS's MX hosts of a domain; undefined when DNS does not answer (the table of well-known domains decides then). */
export function dnsMxLookup(timeoutMs = 2000): MxLookup {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  return async (domain) => {
    try {
      return (await resolver.resolveMx(domain)).sort((a, b) => a.priority - b.priority).map((mx) => mx.exchange);
    } catch {
      return undefined;
    }
  };
}

export interface ProviderMap {
  /** The provider of a domain resolved before (the domain itself until then). */
  providerOf(domain: string): string;
  /** Resolves the domains not known yet. */
  resolve(domains: Iterable<string>): Promise<void>;
}

const LOOKUPS_AT_ONCE = 16;

export function providerMap(store: ReturnType<typeof mailDomains>, lookupMx: MxLookup = dnsMxLookup()): ProviderMap {
  const known = new Map<string, string>();
  return {
    providerOf: (domain) => known.get(domain) ?? domain,
    async resolve(domains) {
      const unknown = [...new Set(domains)].filter((d) => !known.has(d));
      if (unknown.length === 0) return;
      for (const [domain, provider] of await store.known(unknown)) known.set(domain, provider);
      const left = unknown.filter((d) => !known.has(d));
      const resolved: DomainProvider[] = [];
      for (let i = 0; i < left.length; i += LOOKUPS_AT_ONCE) {
        resolved.push(...await Promise.all(left.slice(i, i + LOOKUPS_AT_ONCE).map(async (d) => providerOf(d, await lookupMx(d)))));
      }
      await store.save(resolved);
      for (const r of resolved) known.set(r.domain, r.provider);
    },
  };
}
