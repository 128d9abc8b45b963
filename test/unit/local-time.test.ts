// The recipient's local time: each recipient's zone, the instant of their local contact time across DST changes,
// what a passed time becomes, and the groups of zones that share an instant. Spec errors name the field and the fix.
import { countriesWithSeveralZones, countryZone, isZone, localTimeGroups, MOST_POPULOUS_ZONE, recipientZone, zoneTime } from '../../domain/local-time';
import { localTimeStatus, localTimeSummary } from '../../domain/local-time-plan';
import { snapshotText } from '../../client/format';
import { emptyKpis } from '../../domain/delivery';
import { parseDeliverySpec } from '../../domain/spec';
import { validateDeliverySpec } from '../../domain/spec-problems';

const iso = (d: Date) => d.toISOString();
const at = (s: string) => new Date(s);

describe("a recipient's zone", () => {
  it('is their own timeZone attribute, else their country (code or name), else the default', () => {
    expect(recipientZone({ country: 'FR', attributes: { timeZone: 'America/Chicago' } }, 'UTC')).toBe('America/Chicago');
    expect(recipientZone({ country: 'FR', attributes: { timeZone: 'Mars/Olympus' } }, 'UTC')).toBe('Europe/Paris'); // not a zone: the country
    expect(recipientZone({ country: 'fr', attributes: {} }, 'UTC')).toBe('Europe/Paris');
    expect(recipientZone({ country: 'Japan', attributes: {} }, 'UTC')).toBe('Asia/Tokyo');
    expect(recipientZone({ country: 'US', attributes: {} }, 'UTC')).toBe('America/New_York'); // the most populous of several
    expect(recipientZone({ country: '', attributes: {} }, 'Europe/Lisbon')).toBe('Europe/Lisbon');
    expect(recipientZone({ country: 'Atlantis', attributes: { timeZone: 42 } }, 'UTC')).toBe('UTC');
  });

  it('names the most populous zone of every country that has several, and every default is a zone this machine knows', () => {
    expect(countriesWithSeveralZones().filter((c) => !MOST_POPULOUS_ZONE[c])).toEqual([]);
    for (const zone of Object.values(MOST_POPULOUS_ZONE)) expect(isZone(zone)).toBe(true);
    expect(countryZone('BR')).toBe('America/Sao_Paulo');
    expect(countryZone('Narnia')).toBeUndefined();
  });
});

describe('the instant of a local contact time', () => {
  const start = at('2026-03-01T00:00:00Z');
  it('follows each zone’s offset on the day, across a DST change (Europe and the US change on different days)', () => {
    // 29 March 2026: Paris and London have moved to summer time that night; New York moved on 8 March.
    expect(iso(zoneTime('2026-03-29T09:00:00', 'Europe/Paris', start, 'now'))).toBe('2026-03-29T07:00:00.000Z');
    expect(iso(zoneTime('2026-03-28T09:00:00', 'Europe/Paris', start, 'now'))).toBe('2026-03-28T08:00:00.000Z');
    expect(iso(zoneTime('2026-03-29T09:00:00', 'Europe/London', start, 'now'))).toBe('2026-03-29T08:00:00.000Z');
    expect(iso(zoneTime('2026-03-29T09:00:00', 'America/New_York', start, 'now'))).toBe('2026-03-29T13:00:00.000Z');
    expect(iso(zoneTime('2026-03-29T09:00:00', 'Asia/Kolkata', start, 'now'))).toBe('2026-03-29T03:30:00.000Z');
  });

  it('reads a time the clocks skip as they do (02:30 on the spring-forward night is 03:30)', () => {
    expect(iso(zoneTime('2026-03-29T02:30:00', 'Europe/Paris', start, 'now'))).toBe('2026-03-29T01:30:00.000Z');
  });

  it('once passed: now, or the same local time on the first day it is ahead, DST included', () => {
    const late = at('2026-03-28T12:00:00Z'); // after 09:00 in Paris on the 28th (08:00Z)
    expect(iso(zoneTime('2026-03-28T09:00:00', 'Europe/Paris', late, 'now'))).toBe('2026-03-28T12:00:00.000Z');
    // The next day is the first of summer time: 09:00 is 07:00Z, not 08:00Z.
    expect(iso(zoneTime('2026-03-28T09:00:00', 'Europe/Paris', late, 'nextDay'))).toBe('2026-03-29T07:00:00.000Z');
    // Days later (an A/B test decided, a wave): the first 09:00 still ahead.
    expect(iso(zoneTime('2026-03-28T09:00:00', 'Europe/Paris', at('2026-04-02T06:00:00Z'), 'nextDay'))).toBe('2026-04-02T07:00:00.000Z');
    expect(iso(zoneTime('2026-03-28T09:00:00', 'Europe/Paris', at('2026-04-02T07:00:01Z'), 'nextDay'))).toBe('2026-04-03T07:00:00.000Z');
  });
});

describe('groups of zones', () => {
  it('puts zones at the same instant together, earliest first, with their offsets and messages', () => {
    const groups = localTimeGroups([
      { zone: 'Europe/Paris', messages: 10 }, { zone: 'Europe/Berlin', messages: 5 }, { zone: 'Europe/London', messages: 7 },
      { zone: 'America/New_York', messages: 3 }, { zone: 'Asia/Tokyo', messages: 2 },
    ], '2026-12-10T09:00:00', at('2026-12-01T00:00:00Z'), 'nextDay');
    expect(groups.map((g) => [g.at, g.offsets, g.zones, g.messages])).toEqual([
      ['2026-12-10T00:00:00.000Z', ['+09:00'], ['Asia/Tokyo'], 2],
      ['2026-12-10T08:00:00.000Z', ['+01:00'], ['Europe/Berlin', 'Europe/Paris'], 15],
      ['2026-12-10T09:00:00.000Z', ['+00:00'], ['Europe/London'], 7],
      ['2026-12-10T14:00:00.000Z', ['-05:00'], ['America/New_York'], 3],
    ]);
  });

  it('sends the zones whose time has passed together at once with "now"', () => {
    const groups = localTimeGroups([{ zone: 'Asia/Tokyo', messages: 2 }, { zone: 'Europe/Paris', messages: 1 }, { zone: 'America/New_York', messages: 4 }],
      '2026-12-10T09:00:00', at('2026-12-10T10:00:00Z'), 'now');
    expect(groups.map((g) => [g.at, g.offsets, g.messages])).toEqual([
      ['2026-12-10T10:00:00.000Z', ['+01:00', '+09:00'], 3],
      ['2026-12-10T14:00:00.000Z', ['-05:00'], 4],
    ]);
  });

  it('reads in the status and the current details', () => {
    const plan = { step: 'all', next: 1, groups: [
      { at: '2026-12-10T08:00:00.000Z', offsets: ['+01:00'], zones: ['Europe/Paris'], messages: 15 },
      { at: '2026-12-10T14:00:00.000Z', offsets: ['-05:00'], zones: ['America/New_York'], messages: 3 },
    ] };
    expect(localTimeStatus(plan, Date.parse('2026-12-10T09:00:00Z')).groups.map((g) => g.state)).toEqual(['sent', 'waiting']);
    expect(localTimeSummary(plan, Date.parse('2026-12-10T09:00:00Z'))).toBe('Local time (all): 1 of 2 group(s) sent · next UTC-05:00 at 2026-12-10T14:00:00.000Z (3)');
    const status = { state: 'sending' as const, localTime: localTimeStatus(plan, Date.parse('2026-12-10T09:00:00Z')) };
    expect(snapshotText({ id: 'd-1', status, kpis: emptyKpis() }).split('\n').slice(-5)).toEqual([
      'Local time (all):',
      'group  at                        offsets    zones  messages  state',
      '-----  ------------------------  ---------  -----  --------  -------',
      '1      2026-12-10T08:00:00.000Z  UTC+01:00  1      15        sent',
      '2      2026-12-10T14:00:00.000Z  UTC-05:00  1      3         waiting',
    ]);
  });
});

describe('local time in the spec', () => {
  const BASE = { name: 'L', from: 'Shop <news@shop.example>', subject: 'Hi', html: '<p>Hi</p>', audience: { all: true } };
  const problems = (spec: Record<string, unknown>) => {
    const v = validateDeliverySpec({ ...BASE, ...spec }, at('2026-12-01T00:00:00Z'));
    return v.ok ? [] : v.problems;
  };
  it('takes a local time without offset with "recipient", and defaults', () => {
    const v = parseDeliverySpec({ ...BASE, scheduleAt: '2026-12-10T09:00:00', timeZone: 'recipient' });
    expect(v.ok && [v.spec.defaultTimeZone, v.spec.ifPassed]).toEqual(['UTC', 'nextDay']);
    expect(problems({ scheduleAt: '2026-12-10T09:00:00', timeZone: 'recipient', defaultTimeZone: 'Europe/Paris', ifPassed: 'now' })).toEqual([]);
  });
  it.each([
    [{ timeZone: 'recipient' }, 'scheduleAt: is required with "timeZone": "recipient": the local time to send at, e.g. "2026-12-10T09:00:00"'],
    [{ timeZone: 'recipient', scheduleAt: '2026-12-10T09:00:00+01:00' }, 'scheduleAt: 2026-12-10T09:00:00+01:00 names a time zone, but with "timeZone": "recipient" it is each recipient\'s local time: write it without offset, e.g. "2026-12-10T09:00:00"'],
    [{ scheduleAt: '2026-12-10T09:00:00' }, 'scheduleAt: 2026-12-10T09:00:00 has no time zone: add one (e.g. "2026-12-10T09:00:00Z"), or add "timeZone": "recipient" to send at that local time in each recipient\'s zone'],
    [{ timeZone: 'Europe/Paris', scheduleAt: '2026-12-10T09:00:00' }, 'timeZone: must be "recipient": each recipient gets the message at scheduleAt in their own time zone'],
    [{ timeZone: 'recipient', scheduleAt: '2026-12-10T09:00:00', defaultTimeZone: 'Europe/Pariss' }, 'defaultTimeZone: "Europe/Pariss" is not a time zone: use an IANA name such as "Europe/Paris", "America/New_York" or "UTC"'],
    [{ timeZone: 'recipient', scheduleAt: '2026-11-29T09:00:00' }, 'scheduleAt: 2026-11-29T09:00:00 is in the past in every time zone; remove it to send now, or give a future date'],
    [{ timeZone: 'recipient', scheduleAt: '2026-12-10T09:00:00', ifPassed: 'later' }, 'ifPassed: must be "now" (send at once where the time has passed) or "nextDay" (at that time the next day)'],
  ])('%j → %s', (spec, problem) => {
    expect(problems(spec)).toEqual([problem]);
  });
  it('keeps a local time that has passed in the east but not in the west', () => {
    expect(problems({ timeZone: 'recipient', scheduleAt: '2026-11-30T20:00:00' })).toEqual([]); // 20:00 in Hawaii is still ahead
  });
});
