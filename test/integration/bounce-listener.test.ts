// The bounce listener as the outside world reaches it: over SMTP, with forged, replayed, oversized and
// early DSNs, on the real stack (Temporal, database, relay, worker).
import net from 'node:net';
import { dsn, sendRaw } from '../helpers/dsn';
import { baseSpec, clearData, eventually, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import type { SinkMessage } from '../helpers/smtp-sink';
import { startBounceListener, type BounceListener } from '../../worker/bounce-listener';

describe('the bounce listener trusts only what a DSN cannot forge', () => {
  let stack: TestStack;
  let listener: BounceListener;
  let onAccepted: ((m: SinkMessage) => void) | undefined;
  beforeAll(async () => {
    stack = await startTestStack({ bounceDomain: 'bounces.test', onAccepted: (m) => onAccepted?.(m) });
    listener = await startBounceListener({ db: stack.db, client: stack.client, port: 0, softErrorsBeforeQuarantine: 3, secret: stack.trackingSetup.secret, signalEveryMs: 500 });
  });
  afterAll(async () => {
    await listener?.close();
    await stack?.close();
  });
  beforeEach(async () => {
    onAccepted = undefined;
    await clearData(stack);
    await stack.db.quarantine.deleteMany();
  });

  /** Sends one delivery to these addresses and returns each message as the relay received it. */
  async function sent(emails: string[]) {
    await seedProfiles(stack.db, emails.map((email) => ({ email })));
    const handle = await stack.start(baseSpec());
    await handle.result();
    const rows = await stack.db.sendingLog.findMany({ where: { deliveryId: handle.workflowId }, orderBy: { id: 'asc' } });
    return rows.map((row) => ({ row, message: stack.sink.messages.find((m) => m.to === row.email)! }));
  }
  const failedDsn = (to: string, recipient: string, originalMessageId: string) =>
    dsn({ to, recipient, action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown', originalMessageId });
  const smtpRefusal = (p: Promise<unknown>) => p.then(() => 250, (e: { responseCode?: number }) => e.responseCode ?? -1);

  it('refuses forged DSNs (guessed VERP ids, guessed Message-IDs, altered signatures) with 5xx and changes nothing', async () => {
    const [{ row: victim, message }] = await sent(['victim@y.example']);
    const before = await stack.db.sendingLog.findUniqueOrThrow({ where: { id: victim.id } });
    const codes: number[] = [];
    // 38 ids around the victim's, as the sequential unsigned scheme allowed, each with the right recipient
    for (let id = victim.id - 19; id < victim.id + 19; id++) {
      if (id < 1) continue;
      codes.push(await smtpRefusal(sendRaw(listener.port, { from: '', to: `bounces+${id}@bounces.test` }, failedDsn(`bounces+${id}@bounces.test`, victim.email, '<x@y>'))));
      codes.push(await smtpRefusal(sendRaw(listener.port, { from: '', to: 'postmaster@bounces.test' },
        failedDsn('postmaster@bounces.test', victim.email, `<${victim.deliveryId}.${id}@shop.example>`)))); // the old Message-ID scheme
    }
    // the genuine references with one character changed
    const verp = message.from;
    const alteredVerp = verp.replace(/-([0-9a-f])/, (_, c: string) => `-${c === '0' ? '1' : '0'}`);
    codes.push(await smtpRefusal(sendRaw(listener.port, { from: '', to: alteredVerp }, failedDsn(alteredVerp, victim.email, '<x@y>'))));
    const mid = message.mail.messageId!;
    const alteredMid = mid.replace(/\.([0-9a-f])/, (_, c: string) => `.${c === '0' ? '1' : '0'}`);
    codes.push(await smtpRefusal(sendRaw(listener.port, { from: '', to: 'postmaster@bounces.test' }, failedDsn('postmaster@bounces.test', victim.email, alteredMid))));

    expect(codes.length).toBeGreaterThanOrEqual(40);
    expect(codes.every((c) => c >= 500 && c < 600)).toBe(true);
    expect(await stack.db.sendingLog.findUniqueOrThrow({ where: { id: victim.id } })).toEqual(before);
    expect(await stack.db.quarantine.count()).toBe(0);
  });

  it('counts each (message, final status) once: replayed DSNs change nothing', async () => {
    const [hard, delayed] = await sent(['gone@y.example', 'slow@y.example']);
    const delay = dsn({ to: delayed.message.from, recipient: delayed.row.email, action: 'delayed', status: '4.2.2', diagnostic: '452 4.2.2 mailbox full', originalMessageId: delayed.message.mail.messageId! });
    for (let i = 0; i < 5; i++) await sendRaw(listener.port, { from: '', to: delayed.message.from }, delay);
    // the soft threshold is 3: five replays of one delay notice are one soft error
    expect(await stack.db.quarantine.findUnique({ where: { address: delayed.row.email } })).toMatchObject({ status: 'valid', errorCount: 1 });

    const bounce = failedDsn(hard.message.from, hard.row.email, hard.message.mail.messageId!);
    const first = await listener.handle(Buffer.from(bounce), [hard.message.from]);
    const again = await listener.handle(Buffer.from(bounce), [hard.message.from]);
    expect(first).toMatchObject({ code: 250, applied: [{ sendingLogId: hard.row.id, kind: 'hard' }] });
    expect(again).toMatchObject({ code: 250, applied: [] });
    expect(await stack.db.quarantine.findUnique({ where: { address: hard.row.email } })).toMatchObject({ status: 'quarantined', errorCount: 1 });
  });

  it('refuses an oversized DSN while receiving it (552), with memory flat', async () => {
    const [{ row, message }] = await sent(['big@y.example']);
    const rssBefore = process.memoryUsage().rss;
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) replies.push(await streamDsn(listener.port, message.from, 30 * 1024 * 1024, failedDsn(message.from, row.email, message.mail.messageId!)));
    const grewMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    expect(replies.every((r) => r.startsWith('552'))).toBe(true);
    // 90 MB went through: buffered, they would have grown the process by far more than this
    expect(grewMb).toBeLessThan(48);
    expect(await stack.db.sendingLog.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ status: 'sent', bouncedAt: null });
  });

  it('applies a DSN that arrives within 10 ms of the relay\'s 250, before the outcome is recorded, and keeps its quarantine', async () => {
    const bounces: Array<Promise<number>> = [];
    // The relay bounces at once: the DSN is on its way as the 250 is written.
    onAccepted = (m) => {
      const at = Date.now();
      bounces.push(new Promise<void>((r) => setImmediate(r)).then(() => {
        const lag = Date.now() - at;
        return sendRaw(listener.port, { from: '', to: m.from }, failedDsn(m.from, m.to, m.mail.messageId!)).then(() => lag);
      }));
    };
    const [{ row }] = await sent(['fast-bounce@y.example']);
    const lags = await Promise.all(bounces);
    expect(lags).toHaveLength(1);
    expect(lags[0]).toBeLessThan(10);
    expect(await stack.db.sendingLog.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ status: 'failed', failureType: 'hard', bouncedAt: expect.any(Date) });
    // the success of the message, recorded after its own bounce, did not lift the quarantine
    expect(await stack.db.quarantine.findUnique({ where: { address: row.email } })).toMatchObject({ status: 'quarantined', failureType: 'hard' });
    await eventually(async () => (await stack.db.sendingLog.count({ where: { id: row.id, status: 'failed' } })) === 1, 5000, 'bounce kept');
  });
});

/** An SMTP client that streams `bytes` of DSN body in 1 MB chunks (the test holds only one), and returns the final reply. */
async function streamDsn(port: number, to: string, bytes: number, head: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  let buffered = '';
  socket.on('data', (d: Buffer) => {
    buffered += d.toString();
    for (let i = buffered.indexOf('\r\n'); i >= 0; i = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 2);
      if (/^\d{3} /.test(line)) {
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w(line);
        } else lines.push(line);
      }
    }
  });
  const reply = () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : (waiting = resolve)));
  const write = (s: string | Buffer) => new Promise<void>((resolve) => (socket.write(s) ? resolve() : socket.once('drain', () => resolve())));
  await reply(); // greeting
  for (const command of ['EHLO relay.example', 'MAIL FROM:<>', `RCPT TO:<${to}>`, 'DATA']) {
    await write(`${command}\r\n`);
    await reply();
  }
  await write(head.replace(/\r\n\r\n--dsn-boundary--\r\n$/, '\r\n'));
  const chunk = Buffer.from(`${'x'.repeat(998)}\r\n`.repeat(1048));
  for (let sentBytes = 0; sentBytes < bytes; sentBytes += chunk.length) await write(chunk);
  await write('\r\n.\r\n');
  const final = await reply();
  socket.end('QUIT\r\n');
  return final;
}
