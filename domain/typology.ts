// Typology rules: the checks and exclusions a delivery's preparation applies.
// A delivery names a typology (defaults below) and may override any of its rules in its spec.
import { domainOf } from './address';
import { z } from 'zod';
import { attributeOf, isProfileField, PROFILE_FIELDS, type ProfileRecord } from './profile-fields';

const level = z.enum(['error', 'warning'], { error: 'must be "error" (blocks the delivery) or "warning" (only logs)' });
const filterValue = z.union([z.string(), z.boolean(), z.array(z.string()).min(1)]);

/** A profile filter: every condition must match. `domain` matches the address's domain. */
const filterWhere = z.record(z.string(), filterValue).superRefine((where, ctx) => {
  if (Object.keys(where).length === 0) ctx.addIssue({ code: 'custom', message: 'needs at least one condition' });
  for (const key of Object.keys(where)) {
    if (key !== 'domain' && !isProfileField(key) && !/^attributes\.[^.]+$/.test(key)) {
      ctx.addIssue({ code: 'custom', path: [key], message: `unknown field "${key}"; use domain, ${PROFILE_FIELDS.join(', ')} or attributes.<name>` });
    }
  }
});
export type FilterWhere = z.infer<typeof filterWhere>;

const rulesSchema = z.strictObject({
  subject: z.strictObject({ level }).optional(),
  unsubscribeLink: z.strictObject({ level }).optional(),
  dkimSignature: z.strictObject({ level }).nullable().optional(),
  messageSize: z.strictObject({ level, maxKb: z.number().positive() }).optional(),
  proofSize: z.strictObject({ level, max: z.number().int().positive() }).optional(),
  filters: z.array(z.strictObject({ name: z.string().min(1).max(100), where: filterWhere })).optional(),
  pressure: z.strictObject({ maxMessages: z.number().int().min(1), periodDays: z.number().positive() }).nullable().optional(),
  capacity: z.strictObject({
    maxRecipients: z.number().int().min(0),
    priority: z.enum(['oldest', 'newest', 'random'], { error: 'must be "oldest" (lowest profile id first), "newest" or "random"' }).default('oldest'),
  }).nullable().optional(),
  controlGroup: z.strictObject({
    percent: z.number().gt(0).lt(100).optional(),
    count: z.number().int().min(1).optional(),
    seed: z.string().optional(),
  }).refine((g) => (g.percent === undefined) !== (g.count === undefined), 'give either percent or count').nullable().optional(),
});

export const TYPOLOGY_NAMES = ['default', 'marketing', 'transactional'] as const;

export const typologySchema = z.strictObject({
  name: z.enum(TYPOLOGY_NAMES, { error: `must be one of ${TYPOLOGY_NAMES.join(', ')}` }).default('default'),
  rules: rulesSchema.default({}),
});
export type TypologySpec = z.output<typeof typologySchema>;

export type Level = z.infer<typeof level>;
export interface Typology {
  name: string;
  subject: { level: Level };
  unsubscribeLink: { level: Level } | null;
  /** The sender domain has a DKIM key (`delivery dkim`): unsigned bulk mail is junked or refused by Gmail and Yahoo. Off (null) when the relay signs (an ESP). */
  dkimSignature: { level: Level } | null;
  messageSize: { level: Level; maxKb: number };
  proofSize: { level: Level; max: number };
  filters: Array<{ name: string; where: FilterWhere }>;
  pressure: { maxMessages: number; periodDays: number } | null;
  capacity: { maxRecipients: number; priority: 'oldest' | 'newest' | 'random' } | null;
  controlGroup: { percent?: number; count?: number; seed?: string } | null;
}

const BASE: Typology = {
  name: 'default',
  subject: { level: 'error' },
  unsubscribeLink: { level: 'warning' },
  dkimSignature: { level: 'warning' },
  messageSize: { level: 'warning', maxKb: 60 }, // ~35 KB recommended; above 60 KB sending slows down
  proofSize: { level: 'error', max: 100 },
  filters: [],
  pressure: null,
  capacity: null,
  controlGroup: null,
};

/** Named typologies: what a delivery gets before its own overrides. */
export const TYPOLOGIES: Record<(typeof TYPOLOGY_NAMES)[number], Typology> = {
  default: BASE,
  // Newsletters and campaigns: an unsubscribe link is mandatory, and nobody gets more than 3 a week.
  marketing: { ...BASE, name: 'marketing', unsubscribeLink: { level: 'error' }, pressure: { maxMessages: 3, periodDays: 7 } },
  // Receipts, password resets: no unsubscribe link expected, no fatigue rule.
  transactional: { ...BASE, name: 'transactional', unsubscribeLink: null },
};

export function resolveTypology(spec: TypologySpec | undefined): Typology {
  const base = TYPOLOGIES[spec?.name ?? 'default'];
  const rules = spec?.rules ?? {};
  const pick = <K extends keyof Typology>(key: K): Typology[K] => (rules[key as keyof typeof rules] === undefined ? base[key] : (rules[key as keyof typeof rules] as Typology[K]));
  return {
    name: base.name,
    subject: pick('subject'),
    unsubscribeLink: pick('unsubscribeLink'),
    dkimSignature: pick('dkimSignature'),
    messageSize: pick('messageSize'),
    proofSize: pick('proofSize'),
    filters: [...base.filters, ...(rules.filters ?? [])],
    pressure: pick('pressure'),
    capacity: pick('capacity'),
    controlGroup: pick('controlGroup'),
  };
}

/** The filtering rule excluding a profile, if any. */
export function matchingFilter(profile: ProfileRecord, filters: Typology['filters']): string | undefined {
  return filters.find((f) => Object.entries(f.where).every(([key, expected]) => matches(fieldValue(profile, key), expected)))?.name;
}

function fieldValue(profile: ProfileRecord, key: string): string | boolean {
  if (key === 'domain') return domainOf(profile.email);
  if (key.startsWith('attributes.')) return String(attributeOf(profile.attributes, key.slice('attributes.'.length)) ?? '');
  return profile[key as keyof ProfileRecord] as string | boolean;
}

function matches(actual: string | boolean, expected: string | boolean | string[]): boolean {
  const norm = (v: string | boolean) => (typeof v === 'string' ? v.toLowerCase() : v);
  if (Array.isArray(expected)) return expected.some((e) => norm(e) === norm(actual));
  return norm(expected) === norm(actual);
}

/** A deterministic number in [0, 1) per (seed, profile): the same hold-out on every preparation. */
export function holdoutRank(seed: string, profileId: number): number {
  // FNV-1a over the seed and id, then a final avalanche (murmur3 fmix32).
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${profileId}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** Candidates in the reproducible order of a seed (ranks computed once each). */
function byRank(candidates: Candidate[], seed: string): Candidate[] {
  return candidates
    .map((c) => ({ c, rank: holdoutRank(seed, c.profileId) }))
    .sort((a, b) => a.rank - b.rank || a.c.profileId - b.c.profileId)
    .map(({ c }) => c);
}

export interface Candidate {
  id: number;
  profileId: number;
}

/**
 * After every per-profile rule: the control group is held out first, then capacity keeps at most
 * maxRecipients of the rest by its priority. Returns the row ids each removes.
 */
export function selectHoldouts(candidates: Candidate[], t: Pick<Typology, 'controlGroup' | 'capacity'>, seed: string): { controlGroup: number[]; capacity: number[] } {
  let rest = candidates;
  let controlGroup: number[] = [];
  if (t.controlGroup) {
    const g = t.controlGroup;
    const size = Math.min(rest.length, g.count ?? Math.round((rest.length * (g.percent ?? 0)) / 100));
    const held = new Set(byRank(rest, g.seed ?? seed).slice(0, size).map((c) => c.id));
    controlGroup = [...held];
    rest = rest.filter((c) => !held.has(c.id));
  }
  let capacity: number[] = [];
  if (t.capacity && rest.length > t.capacity.maxRecipients) {
    const { priority } = t.capacity;
    const ordered = priority === 'random' ? byRank(rest, `${seed}/capacity`)
      : [...rest].sort((a, b) => (priority === 'newest' ? b.profileId - a.profileId : a.profileId - b.profileId));
    capacity = ordered.slice(t.capacity.maxRecipients).map((c) => c.id);
  }
  return { controlGroup, capacity };
}
