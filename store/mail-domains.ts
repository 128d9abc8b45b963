// Which provider each recipient domain belongs to (domain/providers.ts), kept in MailDomain so that a worker asks DNS
// once a week per domain, not once per attempt. Ops may set a domain's provider by hand (a company domain hosted at
// Google whose MX names a gateway): `delivery domains provider`; such a setting is never resolved over.
import type { DomainProvider, ProviderSource } from '../domain/providers';
import type { Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';

/** How long a resolution holds before DNS is asked again. */
export const RESOLUTION_HOLDS_MS = 7 * 24 * 3600_000;

export interface MailDomainRow {
  domain: string;
  provider: string;
  mxHosts: string;
  source: string;
  resolvedAt: Date;
}

export function mailDomains(db: Database, retry?: TransientRetry) {
  return transientTolerant({
    /** Known providers of these domains (resolved within the week, or set by ops). */
    async known(domains: string[], now = new Date()): Promise<Map<string, string>> {
      if (domains.length === 0) return new Map();
      const rows = await db.mailDomain.findMany({ where: { domain: { in: domains } } });
      const fresh = rows.filter((r) => r.source === 'ops' || now.getTime() - r.resolvedAt.getTime() < RESOLUTION_HOLDS_MS);
      return new Map(fresh.map((r) => [r.domain, r.provider]));
    },

    /** Keeps resolutions of domains not known yet (`known` returns ops settings, so they are never resolved over). */
    async save(resolved: DomainProvider[], now = new Date()): Promise<void> {
      for (const r of resolved) {
        const data = { provider: r.provider, mxHosts: r.mxHosts.join(','), source: r.source as ProviderSource, resolvedAt: now };
        await db.mailDomain.upsert({ where: { domain: r.domain }, create: { domain: r.domain, ...data }, update: data });
      }
    },

    async setByOps(domain: string, provider: string): Promise<void> {
      const data = { provider, mxHosts: '', source: 'ops', resolvedAt: new Date() };
      await db.mailDomain.upsert({ where: { domain }, create: { domain, ...data }, update: data });
    },

    async list(): Promise<MailDomainRow[]> {
      return db.mailDomain.findMany({ orderBy: [{ provider: 'asc' }, { domain: 'asc' }] });
    },
  }, retry);
}
