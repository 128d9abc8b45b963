// Mailbox providers: gmail.com, googlemail.com and every Google-hosted company domain share one sending reputation
// and one set of limits at Google, so caps and traffic shaping apply per provider, not per domain. A domain belongs
// to a provider by its MX hosts; the well-known consumer domains are listed too, for when DNS cannot be asked.

export interface Provider {
  /** The name ops see and use (`delivery domains set google --rate 50`). */
  name: string;
  /** MX host names (lower-case, without the final dot) that mean this provider. */
  mx: RegExp;
  /** Its consumer domains. */
  domains: readonly string[];
}

export const PROVIDERS: readonly Provider[] = [
  { name: 'google', mx: /(^|\.)(google\.com|googlemail\.com|smtp\.goog)$/, domains: ['gmail.com', 'googlemail.com'] },
  {
    name: 'microsoft', mx: /(^|\.)(protection\.outlook\.com|outlook\.com|hotmail\.com|olc\.protection\.outlook\.com)$/,
    domains: ['outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'hotmail.fr', 'hotmail.co.uk', 'live.fr', 'outlook.fr'],
  },
  {
    name: 'yahoo', mx: /(^|\.)(yahoodns\.net|yahoo\.com|aol\.com)$/,
    domains: ['yahoo.com', 'yahoo.fr', 'yahoo.co.uk', 'ymail.com', 'rocketmail.com', 'aol.com', 'aim.com'],
  },
  { name: 'apple', mx: /(^|\.)(icloud\.com|me\.com|mac\.com)$/, domains: ['icloud.com', 'me.com', 'mac.com'] },
  { name: 'gmx', mx: /(^|\.)(gmx\.net|gmx\.com|gmx\.de|web\.de|mail\.com)$/, domains: ['gmx.de', 'gmx.net', 'gmx.com', 'gmx.fr', 'web.de', 'mail.com'] },
  { name: 'orange', mx: /(^|\.)(orange\.fr|wanadoo\.fr)$/, domains: ['orange.fr', 'wanadoo.fr'] },
  { name: 'comcast', mx: /(^|\.)comcast\.net$/, domains: ['comcast.net'] },
  { name: 'proton', mx: /(^|\.)protonmail\.ch$/, domains: ['proton.me', 'protonmail.com', 'pm.me'] },
  { name: 'free', mx: /(^|\.)free\.fr$/, domains: ['free.fr'] },
  { name: 'laposte', mx: /(^|\.)laposte\.net$/, domains: ['laposte.net'] },
  { name: 'sfr', mx: /(^|\.)sfr\.fr$/, domains: ['sfr.fr', 'neuf.fr'] },
  { name: 'mailru', mx: /(^|\.)mail\.ru$/, domains: ['mail.ru', 'inbox.ru', 'list.ru', 'bk.ru'] },
  { name: 'yandex', mx: /(^|\.)yandex\.(net|ru)$/, domains: ['yandex.ru', 'yandex.com', 'ya.ru'] },
  { name: 'zoho', mx: /(^|\.)zoho\.(com|eu)$/, domains: ['zoho.com', 'zohomail.com'] },
];

export const PROVIDER_NAMES: ReadonlySet<string> = new Set(PROVIDERS.map((p) => p.name));

export type ProviderSource = 'mx' | 'known' | 'ops' | 'none';

export interface DomainProvider {
  domain: string;
  /** The provider's name, or the domain itself when it belongs to none of them. */
  provider: string;
  source: ProviderSource;
  mxHosts: string[];
}

/** The provider of a domain from its MX hosts (undefined: the lookup failed or found none), else the known domains. */
export function providerOf(domain: string, mxHosts: string[] | undefined): DomainProvider {
  const hosts = (mxHosts ?? []).map((h) => h.toLowerCase().replace(/\.$/, ''));
  for (const host of hosts) {
    const p = PROVIDERS.find((candidate) => candidate.mx.test(host));
    if (p) return { domain, provider: p.name, source: 'mx', mxHosts: hosts };
  }
  const known = PROVIDERS.find((p) => p.domains.includes(domain));
  if (known) return { domain, provider: known.name, source: 'known', mxHosts: hosts };
  return { domain, provider: domain, source: 'none', mxHosts: hosts };
}
