// The recipient's local time as the workflow holds it (pure: no tz data here, domain/local-time.ts computes): the
// groups of a sending step, the one being sent, and how they read in the status and the Web UI.

/** Zones whose recipients go at the same instant: one durable timer each. */
export interface LocalTimeGroup {
  /** When the group goes (ISO). */
  at: string;
  /** The UTC offsets of its zones at that instant ("+01:00"), distinct and sorted. */
  offsets: string[];
  zones: string[];
  messages: number;
}

/** The current step's plan (carried across continue-as-new). */
export interface LocalTimePlan {
  /** "test", "wave 2", "all". */
  step: string;
  groups: LocalTimeGroup[];
  /** The group being sent or waited for (0-based). */
  next: number;
}

/** "time zones group 2 of 4 (UTC+01:00: 1200 messages)"; a best-time group (no zones): "hour group 3 of 12 (14:00 UTC: …)". */
export function groupLabel(g: LocalTimeGroup, index: number, count: number): string {
  return g.zones.length
    ? `time zones group ${index + 1} of ${count} (UTC${g.offsets.join(', UTC')}: ${g.messages} messages)`
    : `hour group ${index + 1} of ${count} (${g.at.slice(11, 16)} UTC: ${g.messages} messages)`;
}

export interface LocalTimeGroupStatus {
  group: number;
  at: string;
  offsets: string[];
  zones: number;
  messages: number;
  state: 'sent' | 'sending' | 'waiting';
}

export function localTimeStatus(plan: LocalTimePlan, now: number): { step: string; groups: LocalTimeGroupStatus[] } {
  return {
    step: plan.step,
    groups: plan.groups.map((g, i) => ({
      group: i + 1, at: g.at, offsets: g.offsets, zones: g.zones.length, messages: g.messages,
      state: i < plan.next ? 'sent' : i === plan.next && Date.parse(g.at) <= now ? 'sending' : 'waiting',
    })),
  };
}

/** "Local time (wave 1): 3 of 30 groups sent · next UTC-05:00 at 2026-12-10T14:00:00.000Z (1200)" for the current details. */
export function localTimeSummary(plan: LocalTimePlan, now: number): string {
  const { groups } = localTimeStatus(plan, now);
  const sent = groups.filter((g) => g.state === 'sent').length;
  const next = groups.find((g) => g.state !== 'sent');
  const where = next?.offsets.length ? ` UTC${next.offsets.join('/UTC')}` : '';
  const what = next ? ` · ${next.state === 'sending' ? 'sending' : 'next'}${where} at ${next.at} (${next.messages})` : '';
  return `${groups.some((g) => g.zones > 0) ? 'Local time' : 'Best time'} (${plan.step}): ${sent} of ${groups.length} group(s) sent${what}`;
}
