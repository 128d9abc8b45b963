// Saved segments: named conditions, resolved (with the segments and lists they name) where they are used.
import { NAME, NAME_RULE, parseCondition, references } from '../domain/audience';
import type { Database } from './prisma';
import { AudienceError, resolveCondition } from './audience';

export interface SegmentRecord {
  name: string;
  condition: unknown;
  description: string;
  createdAt: Date;
  updatedAt: Date;
}

export function segments(db: Database) {
  const self = {
    async find(name: string): Promise<SegmentRecord | undefined> {
      const row = await db.segment.findUnique({ where: { name } });
      return row ? { ...row, condition: JSON.parse(row.condition) as unknown } : undefined;
    },

    async all(): Promise<SegmentRecord[]> {
      const rows = await db.segment.findMany({ orderBy: { name: 'asc' } });
      return rows.map((r) => ({ ...r, condition: JSON.parse(r.condition) as unknown }));
    },

    /**
     * Saves a segment after checking its condition whole: every segment and list it names must exist, and
     * no chain of segments may lead back to it. `replace` allows changing an existing one.
     */
    async save(name: string, condition: unknown, options: { description?: string; replace?: boolean } = {}): Promise<'created' | 'replaced'> {
      if (!NAME.test(name)) throw new AudienceError([`segment name "${name}": use ${NAME_RULE}`]);
      const existing = await db.segment.findUnique({ where: { name } });
      if (existing && !options.replace) throw new AudienceError([`segment "${name}" exists already: pass --replace to change its condition, or choose another name`]);
      const parsed = parseCondition(condition, 'condition');
      if (!parsed.ok) throw new AudienceError(parsed.problems);
      // Resolved as if saved, so that a reference back to this name is seen as the cycle it would be.
      await resolveCondition(db, parsed.condition, { chain: [name], pending: { name, condition: parsed.condition } });
      const data = { condition: JSON.stringify(condition), description: options.description ?? existing?.description ?? '' };
      if (existing) await db.segment.update({ where: { name }, data: { ...data, updatedAt: new Date() } });
      else await db.segment.create({ data: { name, ...data } });
      return existing ? 'replaced' : 'created';
    },

    /** Deletes a segment that no other segment uses. */
    async remove(name: string): Promise<boolean> {
      if (!(await db.segment.findUnique({ where: { name } }))) return false;
      const users = (await self.all()).filter((s) => {
        const parsed = parseCondition(s.condition);
        return parsed.ok && references(parsed.condition).some((r) => r.kind === 'segment' && r.name === name);
      });
      if (users.length) {
        throw new AudienceError([`segment "${name}" is used by ${users.map((u) => `"${u.name}"`).join(', ')}: change or delete ${users.length > 1 ? 'them' : 'it'} first`]);
      }
      await db.segment.delete({ where: { name } });
      return true;
    },
  };
  return self;
}
