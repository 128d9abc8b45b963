// The delivery spec: the one argument of the emailDelivery workflow.
// Parsed once where a spec comes in (CLI, workflow argument, edit); stored parsed with the delivery (store/deliveries.ts).
import { z } from 'zod';
import { NAME, NAME_RULE, parseCondition } from './audience';
import { isValidAddress } from './address';
import { typologySchema } from './typology';
import { DEFAULT_RETRY_POLICY } from './retries';
import { DEFAULT_FAILURE_GUARD } from './failure-guard';
import { DEFAULT_MAX_COMPLAINT_RATE } from './complaint-guard';
import { abTestSchema, localTimeFields, optimalTimeFields, scheduleAtProblems, variantsSchema } from './sending-plan';
import { wavesSchema } from './waves';
import { MAX_TEMPLATE_BYTES, ONE_LINE } from './spec-fields';


/**
 * 7 days: most opens and clicks come within two or three days of sending; a week also covers a weekend,
 * late readers and the soft retries (3.5 days by default), and costs nothing while the workflow waits.
 */
export const DEFAULT_TRACKING_HOURS = 7 * 24;

export const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Per recipient domain caps, on top of the delivery's global rate ("gmail.com": { … }). */
const domainLimitsSchema = z.record(
  z.string().refine((d) => DOMAIN.test(d), 'must be a lower-case domain such as "gmail.com"'),
  z.strictObject({
    messagesPerSecond: z.number().positive('must be above 0').max(100_000).optional(),
    connections: z.number().int('must be a whole number').min(1).max(200).optional(),
  }).refine((l) => l.messagesPerSecond !== undefined || l.connections !== undefined, 'set messagesPerSecond and/or connections'),
);
export type DomainLimits = z.output<typeof domainLimitsSchema>;

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;
/** The shape of an IANA zone name; whether the zone exists is checked with tz data outside workflows (sending-windows.ts). */
const ZONE_SHAPE = /^(UTC|[A-Za-z_]+(\/[A-Za-z0-9_+-]+){1,2})$/;
const timeZoneSchema = z.string().regex(ZONE_SHAPE, 'must be an IANA time zone such as "Europe/Paris" or "UTC"');

/** When the delivery may send (quiet hours outside), in a time zone: { days, from, to, timeZone }. */
const sendingWindowSchema = z.strictObject({
  days: z.array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` })).min(1, 'needs at least one day').default([...WEEKDAYS]),
  from: z.string().regex(HH_MM, 'must be a time of day as HH:MM, such as "08:00"'),
  to: z.string().regex(HH_MM, 'must be a time of day as HH:MM, such as "20:00" (before "from": the window ends the next day)'),
  timeZone: timeZoneSchema,
}).refine((w) => w.from !== w.to, { message: 'from and to are equal: the window would be empty (leave windows out to send at any time)', path: ['to'] });
export type SendingWindow = z.output<typeof sendingWindowSchema>;

/** `audience.where`: the condition grammar of domain/audience.ts, kept as written (segments resolve at preparation). */
const audienceSchema = z.union([
  z.strictObject({ all: z.literal(true) }),
  z.strictObject({
    where: z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
      error: 'must be a condition object, e.g. { "country": ["GB", "FR"] } or { "and": [ … ] }; use { "all": true } to target every profile',
    }).superRefine((where, ctx) => {
      if (Object.keys(where).length === 0) {
        ctx.addIssue({ code: 'custom', message: 'needs at least one condition; use { "all": true } to target every profile' });
        return;
      }
      const check = parseCondition(where, '');
      // Problems carry their own path below `where` (".and[1].attributes.score.gte: …").
      if (!check.ok) for (const problem of check.problems) ctx.addIssue({ code: 'custom', message: problem, params: { nested: true } });
    }),
  }),
], { error: 'must be { "all": true } or { "where": <condition> }' });

/** What the unsubscribe link of the delivery's messages does: opt out of everything, or leave one list. */
const unsubscribeSchema = z.union([
  z.literal('everything'),
  z.strictObject({ list: z.string().regex(NAME, `must be a list name (${NAME_RULE})`) }),
], { error: 'must be "everything" (opt out of every delivery) or { "list": "<list name>" } (leave that list only)' });

export const deliverySpecSchema = z.strictObject({
  name: z.string().trim().min(1, 'is required: give the delivery a name').max(200).refine(...ONE_LINE),
  from: z.string().trim().min(1, { message: 'is required: set the sender, e.g. "Shop <news@shop.example>"', abort: true })
    .refine(...ONE_LINE)
    .refine((v) => isValidAddress(parseSender(v).address), 'is not a valid sender: use "name@domain" or "Name <name@domain>"'),
  subject: z.string().min(1, 'is required').max(998).refine(...ONE_LINE),
  html: z.string().min(1, 'is required: the HTML template of the message').max(MAX_TEMPLATE_BYTES, `is larger than ${MAX_TEMPLATE_BYTES} characters`),
  text: z.string().max(MAX_TEMPLATE_BYTES, `is larger than ${MAX_TEMPLATE_BYTES} characters`).optional(),
  audience: audienceSchema,
  /** Default "everything"; a list: the link unsubscribes from it alone (an address opted out of everything stays out). */
  unsubscribeFrom: unsubscribeSchema.default('everything'),
  approval: z.enum(['auto', 'semi', 'manual'], {
    error: 'must be "auto" (send after a clean preparation), "semi" (send unless the preparation logged warnings) or "manual" (wait for confirm)',
  }).default('auto'),
  scheduleAt: z.iso.datetime({ offset: true, local: true, error: 'must be an ISO date with a time zone, e.g. 2026-12-01T09:00:00Z (without one, with "timeZone": "recipient")' }).optional(),
  /** "recipient": scheduleAt is a local time, sent in each recipient's zone (their timeZone attribute, their country, else defaultTimeZone). */
  ...localTimeFields,
  /** "optimal": each recipient at the hour they engage most, within the 24 h from scheduleAt (a holdout at scheduleAt). */
  ...optimalTimeFields,
  messagesPerSecond: z.number().positive('must be above 0').max(100_000).optional(),
  /** Sending only within these windows (one, or a list); outside them the delivery waits on a durable timer. */
  windows: z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), // one window, or a list of them
    z.array(sendingWindowSchema, { error: 'must be a window { "days": ["mon", …], "from": "08:00", "to": "20:00", "timeZone": "Europe/Paris" } or a list of them' })
      .min(1, 'needs at least one window').max(14)).optional(),
  /** At most this many messages a day (in the windows' time zone, else UTC); the rest goes on the next day. */
  maxPerDay: z.number().int('must be a whole number of messages').min(1).max(100_000_000).optional(),
  domainLimits: domainLimitsSchema.optional(),
  /** Sending activities sharing the delivery, each possibly on another worker process (rate caps are split between them). */
  parallelSenders: z.number().int('must be a whole number').min(1).max(32).default(1),
  typology: typologySchema.optional(),
  retries: z.strictObject({
    validitySeconds: z.number().positive().max(30 * 24 * 3600).default(DEFAULT_RETRY_POLICY.validitySeconds),
    firstDelaySeconds: z.number().positive().default(DEFAULT_RETRY_POLICY.firstDelaySeconds),
    maxDelaySeconds: z.number().positive().default(DEFAULT_RETRY_POLICY.maxDelaySeconds),
  }).default(DEFAULT_RETRY_POLICY),
  proof: z.strictObject({
    to: z.array(z.string().refine(isValidAddress, 'is not a valid address')).min(1, 'needs at least one address').max(1000),
    /** Confirm is refused until a proof of the current content was sent. */
    required: z.boolean().default(false),
  }).optional(),
  /** Pauses the delivery when hard failures crowd its latest messages; false turns it off. */
  guard: z.union([
    z.literal(false),
    z.strictObject({
      maxHardFailureRate: z.number().gt(0, 'must be above 0 (a share: 0.1 pauses above 10% of hard failures)')
        .max(1, 'must be at most 1 (a share: 0.1 is 10%); use "guard": false to turn the guard off').default(DEFAULT_FAILURE_GUARD.maxHardFailureRate),
      window: z.number().int('must be a whole number of messages').min(10, 'must be at least 10 messages').max(100_000).default(DEFAULT_FAILURE_GUARD.window),
    }),
  ], { error: 'must be false (no guard) or { "maxHardFailureRate": 0.1, "window": 1000 }' }).default(DEFAULT_FAILURE_GUARD),
  /** Pauses the delivery when its spam complaint rate (over delivered) is above the limit; false turns it off. */
  complaintGuard: z.union([
    z.literal(false),
    z.strictObject({
      maxComplaintRate: z.number().gt(0, 'must be above 0 (a share: 0.003 pauses above 0.3% of complaints)')
        .max(1, 'must be at most 1 (a share: 0.003 is 0.3%); use "complaintGuard": false to turn it off').default(DEFAULT_MAX_COMPLAINT_RATE),
    }),
  ], { error: 'must be false (no breaker) or { "maxComplaintRate": 0.003 }' }).default({ maxComplaintRate: DEFAULT_MAX_COMPLAINT_RATE }),
  /**
   * How long after sending the delivery keeps collecting opens, clicks, unsubscriptions and bounces into its
   * live KPIs (the workflow waits on a timer meanwhile; `stop` ends it early). Default: DEFAULT_TRACKING_HOURS.
   */
  trackingHours: z.number().min(0).max(24 * 90).default(DEFAULT_TRACKING_HOURS),
  /** Content variants (each overrides the subject, html, text or from), tested on a share of the target (abTest). */
  variants: variantsSchema.optional(),
  abTest: abTestSchema.optional(),
  /** The messages go out in slices, each `every` after the previous one was sent (with an A/B test: the rest of the target). */
  waves: wavesSchema.optional(),
});

/** A spec as written by the user (approval may be omitted). */
export type DeliverySpecInput = z.input<typeof deliverySpecSchema>;
/** A validated spec (defaults applied). */
export type DeliverySpec = z.output<typeof deliverySpecSchema>;
export type Audience = DeliverySpec['audience'];

export type SpecVerdict = { ok: true; spec: DeliverySpec } | { ok: false; problems: string[] };

/**
 * The spec's fields and defaults (pure: the workflow parses its argument with it). The full validation,
 * templates and links included, is `validateDeliverySpec` (spec-problems.ts).
 */
export function parseDeliverySpec(input: unknown): SpecVerdict {
  const result = deliverySpecSchema.safeParse(input);
  if (result.success) {
    const problems = scheduleAtProblems(result.data);
    return problems.length ? { ok: false, problems } : { ok: true, spec: result.data };
  }
  return { ok: false, problems: result.error.issues.map(describeIssue) };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? issue.path.join('.') : 'spec';
  if (issue.code === 'unrecognized_keys') {
    // The allowed list is known for the spec itself; nested objects name their fields in the README.
    const allowed = issue.path.length === 0 ? ` (allowed: ${Object.keys(deliverySpecSchema.shape).join(', ')})` : '';
    return `${where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them${allowed}`;
  }
  if (issue.path.length === 0 && issue.code === 'invalid_type') return 'spec: must be a JSON object with the delivery fields (name, from, subject, html, audience…)';
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return `${where}: is required`;
  if (issue.code === 'custom' && issue.params?.nested) return `${where}${issue.message}`;
  return `${where}: ${issue.message}`;
}

/** "Name <a@b>" or "a@b" → parts (the address is what SMTP sees). */
export function parseSender(from: string): { name: string; address: string } {
  const m = /^\s*(.*?)\s*<([^<>]+)>\s*$/.exec(from);
  if (m) return { name: m[1].replace(/^"|"$/g, ''), address: m[2].trim() };
  return { name: '', address: from.trim() };
}
