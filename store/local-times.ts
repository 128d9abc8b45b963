// The recipient's local time in the sending logs: each pending row's zone, resolved once at preparation, and the time
// each sending step gives it (retryAt: claims take no row before it). Messages not yet tried only: a soft failure
// keeps its own retry time.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Database } from './prisma';
import { IN_LIST_MAX } from './json-lists';
import { scopeWhere, type ClaimScope } from './sending-log-claims';

const PAGE = 5000;

export function localTimes(db: Database) {
  return {
    /** Sets every pending row's zone from its profile (`zoneOf`); done again whole when a preparation is retried. */
    async applyZones(deliveryId: string, zoneOf: (profile: { country: string; attributes: Record<string, unknown> }) => string): Promise<void> {
      for (let after = 0; ;) {
        const rows = await db.sendingLog.findMany({
          where: { deliveryId, status: 'pending', id: { gt: after } }, orderBy: { id: 'asc' }, take: PAGE, select: { id: true, profileId: true },
        });
        if (rows.length === 0) return;
        const profiles = new Map((await db.profile.findMany({
          where: { id: { in: rows.map((r) => r.profileId) } }, select: { id: true, country: true, attributes: true },
        })).map((p) => [p.id, p]));
        const byZone = new Map<string, number[]>();
        for (const r of rows) {
          const p = profiles.get(r.profileId);
          const zone = zoneOf({ country: p?.country ?? '', attributes: p ? attributesOf(p.attributes) : {} });
          byZone.set(zone, [...(byZone.get(zone) ?? []), r.id]);
        }
        for (const [zone, ids] of byZone) {
          for (let i = 0; i < ids.length; i += IN_LIST_MAX) {
            await db.sendingLog.updateMany({ where: { id: { in: ids.slice(i, i + IN_LIST_MAX) } }, data: { timeZone: zone } });
          }
        }
        after = rows[rows.length - 1].id;
        await yieldToEventLoop();
      }
    },

    /** Messages not tried yet per zone, within a step's scope. */
    async perZone(deliveryId: string, scope: ClaimScope): Promise<Array<{ zone: string; messages: number }>> {
      const groups = await db.sendingLog.groupBy({
        by: ['timeZone'], where: { deliveryId, status: 'pending', softFailures: 0, ...scopeWhere(scope) }, _count: { _all: true },
      });
      return groups.map((g) => ({ zone: g.timeZone ?? 'UTC', messages: g._count._all })).sort((a, b) => a.zone.localeCompare(b.zone));
    },

    /** Gives the step's messages of these zones their time (the step's plan: idempotent, it may run again). */
    async schedule(deliveryId: string, scope: ClaimScope, zones: string[], at: Date): Promise<number> {
      const r = await db.sendingLog.updateMany({
        where: { deliveryId, status: 'pending', softFailures: 0, ...scopeWhere(scope), OR: [{ timeZone: { in: zones } }, ...(zones.includes('UTC') ? [{ timeZone: null }] : [])] },
        data: { retryAt: at },
      });
      return r.count;
    },
  };
}

function attributesOf(json: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(json);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
