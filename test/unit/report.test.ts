import { reportBuilder } from '../../domain/report';

const at = (minute: number) => new Date(Date.UTC(2026, 11, 4, 10, minute, 30));

describe('the numbers of a delivery report', () => {
  it('counts recipients once per kind and every event over time, in buckets that keep the picture under 120 points', () => {
    const b = reportBuilder('d-1', 'Winter sale');
    b.addRecipients([
      { id: 1, email: 'a@x.example', status: 'sent', failureType: null, reason: null, sentAt: at(0) },
      { id: 2, email: 'b@x.example', status: 'failed', failureType: 'hard', reason: 'user unknown (550 5.1.1 …)', sentAt: null },
      { id: 3, email: 'c@y.example', status: 'sent', failureType: null, reason: null, sentAt: at(2) },
      { id: 4, email: 'd@y.example', status: 'ignored', failureType: null, reason: null, sentAt: null },
      { id: 5, email: 'erased:ab12', status: 'failed', failureType: 'ignored', reason: 'erased since the preparation', sentAt: null },
    ]);
    b.addEvents([
      { sendingLogId: 1, kind: 'open', at: at(1) }, { sendingLogId: 1, kind: 'open', at: at(200) },
      { sendingLogId: 3, kind: 'click', at: at(3) }, { sendingLogId: 3, kind: 'unsubscribe', at: at(3) },
    ]);
    const r = b.build(new Date(0));
    expect(r.funnel).toEqual({ targeted: 5, excluded: 1, delivered: 2, opened: 1, clicked: 1 });
    expect(r.failuresByReason).toEqual([
      { reason: 'erased since the preparation', type: 'ignored', count: 1 }, { reason: 'user unknown', type: 'hard', count: 1 },
    ]);
    expect(r.byDomain.map((d) => d.domain)).toEqual(['x.example', '(erased)', 'y.example']); // the excluded are not counted by domain; ties by name
    expect(r.byDomain[0]).toMatchObject({ targeted: 2, delivered: 1, failed: 1, opened: 1, clicked: 0 });
    // 200 minutes: 5-minute buckets (41 of them), every event counted.
    expect(r.timeline.bucketMinutes).toBe(5);
    expect(r.timeline.sent).toHaveLength(41);
    expect(r.timeline.opens.reduce((a, n) => a + n, 0)).toBe(2);
    expect(r.timeline.sent[0]).toBe(2);
    expect(r.timeline.start).toBe('2026-12-04T10:00:00.000Z');
  });

  it('keeps the largest domains and puts the rest together', () => {
    const b = reportBuilder('d-2', 'Many domains');
    b.addRecipients(Array.from({ length: 20 }, (_, i) => ({ id: i + 1, email: `p@d${i}.example`, status: 'sent', failureType: null, reason: null, sentAt: at(0) })));
    const r = b.build();
    expect(r.byDomain).toHaveLength(12);
    expect(r.byDomain[11]).toMatchObject({ domain: '9 other domains', targeted: 9, delivered: 9 });
  });
});
