// The complaint breaker's judgement on small samples, and the feedback-loop report as the listener reads it.
import { complaintTrip, describeComplaintTrip } from '../../domain/complaint-guard';
import { isFeedbackReport, parseFeedbackReport } from '../../domain/feedback-report';
import { arf, dsn } from '../helpers/dsn';

describe('the complaint breaker', () => {
  it('is sound on small samples: 1 complaint in 100 delivered does not trip at 0.3%, 5 do; 0.2% of a large sample does not', () => {
    expect(complaintTrip(1, 100, 0.003)).toBeUndefined();
    expect(complaintTrip(5, 100, 0.003)).toEqual({ complaints: 5, delivered: 100, limit: 0.003 });
    expect(complaintTrip(200, 100_000, 0.003)).toBeUndefined();
    expect(complaintTrip(500, 100_000, 0.003)).toBeDefined();
    expect(complaintTrip(0, 0, 0.003)).toBeUndefined();
    // complaints counted before their delivery (a report racing its KPI) are judged against themselves
    expect(complaintTrip(3, 0, 0.003)).toBeUndefined();
    expect(complaintTrip(30, 10, 0.003)).toBeDefined();
    expect(describeComplaintTrip({ complaints: 5, delivered: 100, limit: 0.003 })).toMatch(/^spam complaints reached 5\.0% of delivered \(5 of 100\), above the limit of 0\.3%: /);
  });
});

describe('feedback-loop reports (RFC 5965)', () => {
  const headers = 'Message-ID: <12.0123456789abcdef01234567@shop.example>\r\nReturn-Path: <bounces+12-abc@bounces.test>\r\nSubject: Hello';

  it('reads the feedback type and the reported message\'s references', async () => {
    const raw = Buffer.from(arf({ to: 'fbl@bounces.test', originalMailFrom: 'bounces+12-abc@bounces.test', originalRcptTo: 'a@x.example', originalHeaders: headers }));
    expect(await parseFeedbackReport(raw)).toEqual({
      feedbackType: 'abuse', originalMailFrom: 'bounces+12-abc@bounces.test', originalRcptTo: 'a@x.example',
      original: { messageId: '<12.0123456789abcdef01234567@shop.example>', returnPath: 'bounces+12-abc@bounces.test' },
    });
    expect((await parseFeedbackReport(Buffer.from(arf({ to: 'f@b', feedbackType: 'Not-Spam', originalRcptTo: 'a@x.example', originalHeaders: headers }))))?.feedbackType).toBe('not-spam');
  });

  it('is not fooled by a DSN or a plain message', async () => {
    const bounce = dsn({ to: 'x@y', recipient: 'a@x.example', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId: '<1.a@b>' });
    expect(await parseFeedbackReport(Buffer.from(bounce))).toBeUndefined();
    expect(await parseFeedbackReport(Buffer.from('Subject: hi\r\n\r\nabuse'))).toBeUndefined();
    expect(isFeedbackReport('multipart/report; report-type=delivery-status')).toBe(false);
    expect(isFeedbackReport('multipart/report; report-type="feedback-report"; boundary=x')).toBe(true);
  });
});
