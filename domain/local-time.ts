// The recipient's local time (`"timeZone": "recipient"`): each recipient's zone, the instant their local contact time
// falls at (DST-correct, by Luxon on the machine's tz data), and the groups of zones that share an instant. Activities
// only: tz data must never decide anything inside workflow code, or a tz update would change a replay.
import { rawTimeZones } from '@vvo/tzdb';
import { DateTime, IANAZone } from 'luxon';
import type { LocalTimeGroup } from './local-time-plan';
import type { IfPassed } from './sending-plan';

/** The most populous zone of each country that has several (the others have one): a test checks none is missing. */
export const MOST_POPULOUS_ZONE: Readonly<Record<string, string>> = {
  AQ: 'Antarctica/McMurdo', AU: 'Australia/Sydney', BR: 'America/Sao_Paulo', CA: 'America/Toronto', CD: 'Africa/Kinshasa',
  CL: 'America/Santiago', CN: 'Asia/Shanghai', EC: 'America/Guayaquil', ES: 'Europe/Madrid', FM: 'Pacific/Chuuk',
  GL: 'America/Nuuk', ID: 'Asia/Jakarta', KI: 'Pacific/Tarawa', MN: 'Asia/Ulaanbaatar', MX: 'America/Mexico_City',
  NZ: 'Pacific/Auckland', PF: 'Pacific/Tahiti', PG: 'Pacific/Port_Moresby', PT: 'Europe/Lisbon', RU: 'Europe/Moscow',
  UA: 'Europe/Kyiv', UM: 'Pacific/Midway', US: 'America/New_York',
};

/** Country code (ISO 3166 alpha-2) or English name, lower-cased → the country's default zone. */
const COUNTRY_ZONE: ReadonlyMap<string, string> = (() => {
  const zones = new Map<string, string[]>();
  const names = new Map<string, string>();
  for (const z of rawTimeZones) {
    zones.set(z.countryCode, [...(zones.get(z.countryCode) ?? []), z.name]);
    names.set(z.countryName.toLowerCase(), z.countryCode);
  }
  const byCode = new Map([...zones].map(([code, list]) => [code.toLowerCase(), MOST_POPULOUS_ZONE[code] ?? list[0]]));
  return new Map([...byCode, ...[...names].map(([name, code]) => [name, byCode.get(code.toLowerCase())!] as const)]);
})();

/** Countries with several zones in the tz data (for the test that each has its most populous zone named). */
export function countriesWithSeveralZones(): string[] {
  const counts = new Map<string, number>();
  for (const z of rawTimeZones) counts.set(z.countryCode, (counts.get(z.countryCode) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([code]) => code).sort();
}

export const isZone = (name: string): boolean => IANAZone.isValidZone(name);

/** A country's default zone, by its ISO code ("FR") or English name ("France"); undefined when unknown. */
export function countryZone(country: string): string | undefined {
  return COUNTRY_ZONE.get(country.trim().toLowerCase());
}

/** The recipient's zone: their own `timeZone` attribute (IANA), else their country's, else the delivery's default. */
export function recipientZone(profile: { country: string; attributes: Record<string, unknown> }, defaultZone: string): string {
  const own = profile.attributes.timeZone;
  if (typeof own === 'string' && own.trim() && isZone(own.trim())) return IANAZone.create(own.trim()).name;
  return countryZone(profile.country) ?? defaultZone;
}

/** A local time passed by less than this when its step starts still goes (at once), whatever ifPassed says. */
export const PASSED_GRACE_MS = 5 * 60_000;

/**
 * When a zone's recipients get a step that starts at `startAt`: the local contact time (`wall`, "2026-12-10T09:00:00")
 * in their zone; if that has passed, at once (`now`) or at the same local time on the first day it is still ahead
 * (`nextDay`). A wall time that a DST change skips is read as the clocks do (02:30 on a spring-forward night → 03:30).
 */
export function zoneTime(wall: string, zone: string, startAt: Date, ifPassed: IfPassed): Date {
  const at = DateTime.fromISO(wall, { zone });
  if (at.toMillis() >= startAt.getTime()) return at.toJSDate();
  // Just passed (the step starts as its first group's timer fires, or a confirm comes a minute late): at once.
  if (ifPassed === 'now' || at.toMillis() >= startAt.getTime() - PASSED_GRACE_MS) return startAt;
  const local = DateTime.fromISO(wall, { zone: 'UTC' }); // the wall clock, shifted by whole local days
  const days = Math.max(1, Math.floor((startAt.getTime() - at.toMillis()) / 86_400_000));
  for (let d = days; ; d++) {
    const next = DateTime.fromObject(local.plus({ days: d }).toObject(), { zone });
    if (next.toMillis() >= startAt.getTime()) return next.toJSDate();
  }
}

/** The groups of a step starting at `startAt`, earliest first, from the messages per zone. */
export function localTimeGroups(perZone: Array<{ zone: string; messages: number }>, wall: string, startAt: Date, ifPassed: IfPassed): LocalTimeGroup[] {
  const groups = new Map<number, LocalTimeGroup>();
  for (const { zone, messages } of perZone) {
    const at = zoneTime(wall, zone, startAt, ifPassed);
    const g = groups.get(at.getTime()) ?? { at: at.toISOString(), offsets: [], zones: [], messages: 0 };
    const offset = DateTime.fromJSDate(at, { zone }).toFormat('ZZ');
    if (!g.offsets.includes(offset)) g.offsets.push(offset);
    g.zones.push(zone);
    g.messages += messages;
    groups.set(at.getTime(), g);
  }
  return [...groups.values()].sort((a, b) => a.at.localeCompare(b.at)).map((g) => ({ ...g, offsets: g.offsets.sort(), zones: g.zones.sort() }));
}
