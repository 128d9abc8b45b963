// Ops' traffic shaping rules (`delivery shaping rules`): rules they added, and built-in rules they turned off.
import { BUILT_IN_RULES, effectiveRules, type ShapingRule } from '../domain/shaping-rules';
import type { Database } from './prisma';
import { transientTolerant, type TransientRetry } from './transient';

export interface ListedRule extends ShapingRule {
  /** A built-in rule ops turned off. */
  off?: boolean;
}

export function shapingRules(db: Database, retry?: TransientRetry) {
  const opsRows = () => db.shapingRule.findMany({ orderBy: { createdAt: 'asc' } });
  const toRule = (r: Awaited<ReturnType<typeof opsRows>>[number]): ShapingRule => ({
    name: r.name,
    ...(r.code !== null ? { code: r.code } : {}),
    ...(r.enhanced !== null ? { enhanced: r.enhanced } : {}),
    ...(r.text !== null ? { text: r.text } : {}),
    ...(r.provider !== null ? { provider: r.provider } : {}),
    action: r.action === 'suspend' ? { kind: 'suspend', forMs: (r.suspendSeconds ?? 0) * 1000 } : { kind: 'slow' },
  });
  return transientTolerant({
    /** The rules in force, in the order they are tried. */
    async effective(): Promise<ShapingRule[]> {
      const rows = await opsRows();
      return effectiveRules(rows.filter((r) => r.action !== 'off').map(toRule), new Set(rows.filter((r) => r.action === 'off').map((r) => r.name)));
    },

    /** Every rule, ops' first, the built-in ones marked off when turned off. */
    async list(): Promise<ListedRule[]> {
      const rows = await opsRows();
      const off = new Set(rows.filter((r) => r.action === 'off').map((r) => r.name));
      const added = rows.filter((r) => r.action !== 'off').map(toRule);
      const named = new Set(added.map((r) => r.name));
      return [...added, ...BUILT_IN_RULES.filter((r) => !named.has(r.name)).map((r) => ({ ...r, ...(off.has(r.name) ? { off: true } : {}) }))];
    },

    async add(rule: ShapingRule): Promise<'created' | 'replaced'> {
      const data = {
        code: rule.code ?? null, enhanced: rule.enhanced ?? null, text: rule.text ?? null, provider: rule.provider ?? null,
        action: rule.action.kind, suspendSeconds: rule.action.kind === 'suspend' ? Math.round(rule.action.forMs / 1000) : null,
      };
      const existing = await db.shapingRule.findUnique({ where: { name: rule.name } });
      await db.shapingRule.upsert({ where: { name: rule.name }, create: { name: rule.name, ...data }, update: data });
      return existing ? 'replaced' : 'created';
    },

    /** Removes an added rule, or turns a built-in one off. False when there is no such rule (or it is off already). */
    async remove(name: string): Promise<'removed' | 'turned off' | 'none'> {
      const existing = await db.shapingRule.findUnique({ where: { name } });
      const builtIn = BUILT_IN_RULES.some((r) => r.name === name);
      if (builtIn) {
        if (existing?.action === 'off') return 'none';
        await db.shapingRule.upsert({ where: { name }, create: { name, action: 'off' }, update: { action: 'off', code: null, enhanced: null, text: null, provider: null, suspendSeconds: null } });
        return 'turned off';
      }
      if (!existing) return 'none';
      await db.shapingRule.delete({ where: { name } });
      return 'removed';
    },
  }, retry);
}
