// The worker's SMTP side against a real SMTP server on loopback: each way a relay can fail ends as the
// right outcome — the recipient's failure, a relay fault (never the recipient's), or an unknown fate.
import { createMailer, type Mailer } from '../../activities/mailer';
import { startSmtpServer, type RunningSmtpServer, type SmtpServerOptions } from '../../stack/smtp-capture';

const message = (to: string) => ({
  envelopeFrom: 'bounces@shop.example', to,
  raw: `From: news@shop.example\r\nTo: ${to}\r\nSubject: Hi\r\nMessage-ID: <${to}@shop.example>\r\n\r\nHello\r\n.dot-stuffed line\r\n`,
});

// With PIPELINING the pool sends each message's envelope in one write (activities/smtp-pipelining.ts); without it,
// through nodemailer's own steps: every outcome must be the same either way.
describe.each([['a relay offering PIPELINING', false], ['a relay without PIPELINING', true]])('sending through the SMTP pool to %s', (_relay, hidePipelining) => {
  let relay: RunningSmtpServer | undefined;
  let mailer: Mailer | undefined;
  const received: string[] = [];
  const sessions = new Set<string>();
  const contents: string[] = [];
  async function start(options: Omit<SmtpServerOptions, 'onMessage'>, credentials = '', maxConnections = 2) {
    received.length = 0;
    contents.length = 0;
    sessions.clear();
    relay = await startSmtpServer({
      ...options,
      hidePipelining,
      onMessage: async ({ envelope, sessionId, raw }) => () => {
        received.push(...envelope.to);
        contents.push(raw.toString());
        sessions.add(sessionId);
      },
    });
    mailer = createMailer({ url: `smtp://${credentials}127.0.0.1:${relay.port}`, maxConnections });
  }
  afterEach(async () => {
    mailer?.close();
    await relay?.close();
    relay = mailer = undefined;
  });

  it('sends over one reused connection, and resets it after a refused recipient', async () => {
    await start({ refuseRecipient: (a) => (a === 'gone@example.com' ? { code: 550, message: '5.1.1 user unknown' } : undefined) }, '', 1);
    expect(await mailer!.send(message('ann@example.com'))).toEqual({ status: 'sent' });
    expect(await mailer!.send(message('gone@example.com'))).toEqual({ status: 'failed', failure: { type: 'hard', reason: 'user unknown (550 5.1.1 user unknown)' } });
    expect(await mailer!.send(message('bob@example.com'))).toEqual({ status: 'sent' });
    expect(received).toEqual(['ann@example.com', 'bob@example.com']);
    expect(sessions.size).toBe(1);
  });

  it.each<[string, Omit<SmtpServerOptions, 'onMessage'>, string, RegExp]>([
    ['a 554 greeting', { refuseConnections: { code: 554, message: '5.7.1 no access for you' } }, '', /^the relay refuses our connections \(554 5\.7\.1 no access for you\)/],
    ['AUTH refused (535)', { auth: { user: 'shop', pass: 'right' } }, 'shop:wrong@', /^the relay refused our credentials \(535 5\.7\.8 Authentication credentials invalid\): fix the user and password in SMTP_URL/],
    ['AUTH required but no credentials', { auth: { user: 'shop', pass: 'right' } }, '', /^the relay requires authentication \(530 .*\): set the user and password in SMTP_URL/],
    ['the return path refused (553)', { refuseSender: { code: 553, message: '5.1.8 sender address rejected' } }, '', /^the relay refused our return path \(553 5\.1\.8 sender address rejected\)/],
    ['the return path refused (553), then the line cut', { refuseSender: { code: 553, message: '5.1.8 sender address rejected' }, hangUpAfterRefusingSender: true }, '', /^the relay refused our return path \(553 5\.1\.8 sender address rejected\)/],
    ['STARTTLS with a certificate the worker refuses', { requireTls: true }, '', /^the relay's TLS certificate was refused \(certificate has expired\)/],
  ])('%s: a permanent relay fault, the message unsent', async (_name, options, credentials, cause) => {
    await start(options, credentials);
    const result = await mailer!.send(message('ann@example.com'));
    expect(result.status).toBe('unsent');
    if (result.status !== 'unsent') return;
    expect(result.fault?.permanent).toBe(true);
    expect(`${result.fault?.cause}: ${result.fault?.fix}`).toMatch(cause);
    expect(received).toEqual([]);
  });

  it('the relay gets the message as written: a line starting with "." and bare LFs survive the transfer', async () => {
    await start({});
    const raw = '.first line\nSubject: Hi\r\n\r\n..two dots\n.\r\nlast line without a break';
    expect(await mailer!.send({ envelopeFrom: 'bounces@shop.example', to: 'ann@example.com', raw })).toEqual({ status: 'sent' });
    expect(contents).toEqual(['.first line\r\nSubject: Hi\r\n\r\n..two dots\r\n.\r\nlast line without a break\r\n']);
  });

  it('the right credentials go through AUTH', async () => {
    await start({ auth: { user: 'shop', pass: 'right' } }, 'shop:right@');
    expect(await mailer!.send(message('ann@example.com'))).toEqual({ status: 'sent' });
  });

  it('a 421 greeting and a connection cut before the content: temporary relay faults, the message unsent', async () => {
    await start({ refuseConnections: { code: 421, message: '4.3.2 busy, try later' } });
    expect(await mailer!.send(message('ann@example.com'))).toMatchObject({ status: 'unsent', fault: { permanent: false, cause: 'the relay is not available (421 4.3.2 busy, try later)' } });
    mailer!.close();
    await relay!.close();
    await start({ dropConnection: () => true });
    expect(await mailer!.send(message('ann@example.com'))).toMatchObject({ status: 'unsent', fault: { permanent: false } });
    expect(received).toEqual([]);
  });

  it('a 421 to RCPT TO: the relay\'s, not the recipient\'s; the connection it closes is replaced', async () => {
    let first = true;
    await start({ refuseRecipient: () => (first ? ((first = false), { code: 421, message: '4.7.0 try again later, closing connection' }) : undefined) }, '', 1);
    expect(await mailer!.send(message('ann@example.com'))).toMatchObject({ status: 'unsent', fault: { permanent: false } });
    expect(await mailer!.send(message('ann@example.com'))).toEqual({ status: 'sent' });
    expect(await mailer!.send(message('bob@example.com'))).toEqual({ status: 'sent' });
  });

  it('a reply lost after the content went out: unknown, the relay may have it', async () => {
    await start({ loseReply: () => true });
    const result = await mailer!.send(message('ann@example.com'));
    expect(result).toEqual({ status: 'unknown', failure: { type: 'soft', reason: expect.stringMatching(/^unreachable \(connection lost after the message was sent/) } });
    expect(received).toEqual(['ann@example.com']); // it did: a retry will be a duplicate, which is why it is counted
  });

  it('gives back a message still waiting for a connection when withdrawn', async () => {
    await start({ replyDelayMs: 500 }, '', 1);
    const withdraw = new AbortController();
    const first = mailer!.send(message('ann@example.com'), withdraw.signal);
    const second = mailer!.send(message('bob@example.com'), withdraw.signal);
    await new Promise((r) => setTimeout(r, 100));
    withdraw.abort();
    expect(await second).toEqual({ status: 'unsent' });
    expect(await first).toEqual({ status: 'sent' }); // already on the wire: it finishes
    expect(received).toEqual(['ann@example.com']);
  });

  it('replaces an idle connection the relay closed, without failing the next message', async () => {
    await start({ socketTimeoutMs: 300 }, '', 1);
    expect(await mailer!.send(message('ann@example.com'))).toEqual({ status: 'sent' });
    await new Promise((r) => setTimeout(r, 800)); // the relay times the idle connection out (421) and closes it
    expect(await mailer!.send(message('bob@example.com'))).toEqual({ status: 'sent' });
    expect(sessions.size).toBe(2);
  });
});
