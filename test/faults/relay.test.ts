// Relay faults from a real SMTP server on loopback: they are the relay's, never the recipients'. A permanent
// one pauses the delivery with its cause and fix; once the relay's configuration is fixed, resume sends every
// recipient once. A temporary one (421) delays the sending and clears by itself. A list that bounces pauses
// the delivery after about one window of the failure-rate guard.
import { workflowMetadataQuery } from '@temporalio/workflow';
import { DELIVERY_STATE, logsQuery, statusQuery } from '../../workflows/messages';
import { runCli } from '../helpers/cli';
import { baseSpec, clearData, eventually, manyProfiles, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import type { SinkOptions } from '../helpers/smtp-sink';
import { account } from './fault-table';

const FAST_FAILOVER = { heartbeatTimeoutSeconds: 3, retryMaxIntervalSeconds: 2 };
const CONNECTIONS = 3;
const CREDENTIALS = { user: 'shop', pass: 'rotated-secret' };

describe('relay faults', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ smtpMaxConnections: CONNECTIONS, smtpCredentials: `${CREDENTIALS.user}:${CREDENTIALS.pass}`, auth: CREDENTIALS });
  });
  afterAll(async () => stack?.close());
  beforeEach(async () => {
    await clearData(stack);
    await stack.db.quarantine.deleteMany();
  });

  /** The relay restarts on the same port with another configuration. */
  const relayBecomes = async (options: SinkOptions) => {
    await stack.sink.goDown();
    await stack.sink.comeBack(options);
  };
  const good: SinkOptions = { auth: CREDENTIALS };

  it.each<[string, SinkOptions, RegExp]>([
    ['AUTH refused (535): the relay has other credentials', { auth: { user: 'shop', pass: 'old-secret' } },
      /^the relay refused our credentials \(535 5\.7\.8 .*\): fix the user and password in SMTP_URL, then resume the delivery$/],
    ['MAIL FROM refused (553)', { ...good, refuseSender: { code: 553, message: '5.7.1 sender address rejected: not owned by you' } },
      /^the relay refused our return path \(553 5\.7\.1 sender address rejected: not owned by you\): check the sender address/],
    ['greeting 554', { refuseConnections: { code: 554, message: '5.7.1 no SMTP service here for you' } },
      /^the relay refuses our connections \(554 5\.7\.1 no SMTP service here for you\): check that this host may use the relay/],
    ['STARTTLS required, with a certificate the worker refuses', { ...good, requireTls: true },
      /^the relay's TLS certificate was refused \(certificate has expired\): give the relay a valid certificate/],
    // Postfix with smtpd_delay_reject=yes answers its client and relay restrictions at RCPT TO, naming the recipient.
    ['RCPT TO 554 5.7.1 Relay access denied (60 recipients)', { ...good, refuseRecipient: (a) => ({ code: 554, message: `5.7.1 <${a}>: Relay access denied` }) },
      /^the relay does not relay for us \(554 5\.7\.1 <address>: Relay access denied\): allow this host to relay/],
    ['RCPT TO 554 5.7.1 Client host rejected', { ...good, refuseRecipient: () => ({ code: 554, message: '5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied' }) },
      /^the sending host is refused \(554 5\.7\.1 <unknown\[127\.0\.0\.1\]>: Client host rejected: Access denied\): check the relay's access rules/],
  ])('%s: nobody failed or quarantined, the delivery pauses with the cause; fixed and resumed, every recipient once', async (fault, broken, cause) => {
    await relayBecomes(broken);
    await seedProfiles(stack.db, manyProfiles(60, 'relay.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 100 }), FAST_FAILOVER);
    await waitForState(handle, 'paused', 60_000);
    const status = await handle.query(statusQuery);
    expect(status.pausedBecause).toMatch(cause);
    const logs = (await handle.query(logsQuery)).entries.map((e) => e.message);
    expect(logs).toContain(`Paused by the engine: ${status.pausedBecause}`);
    expect((await runCli(stack, ['status', handle.workflowId])).stdout).toContain(`Paused by the engine: ${status.pausedBecause}`);
    expect((await handle.describe()).typedSearchAttributes.get(DELIVERY_STATE)).toBe('paused');
    const { currentDetails } = await handle.query(workflowMetadataQuery);
    expect(currentDetails?.startsWith(`**Paused by the engine: ${status.pausedBecause} (0 / `)).toBe(true); // what the Web UI's current details lead with
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, status: { notIn: ['pending'] } } })).toBe(0);
    expect(await stack.db.quarantine.count()).toBe(0);
    expect(stack.sink.messages).toHaveLength(0);

    await relayBecomes(good);
    await handle.signal('resume');
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ sent: 60, failed: 0, pending: 0 });
    const row = await account(stack, handle.workflowId, `relay: ${fault.replace(/:.*/, '')}`, 1);
    expect(row).toMatchObject({ recipients: 60, received: 60, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });

  it.each<[string, SinkOptions]>([
    ['greeting 421 for 10 s', { refuseConnections: { code: 421, message: '4.3.2 too busy, try later' } }],
    ['RCPT TO 452 4.3.1 Insufficient system storage for 10 s', { ...good, refuseRecipient: () => ({ code: 452, message: '4.3.1 Insufficient system storage' }) }],
    ['RCPT TO 451 4.7.1 rate exceeded for 10 s', { ...good, refuseRecipient: () => ({ code: 451, message: '4.7.1 rate exceeded, slow down' }) }],
  ])('%s: the sending waits and resumes by itself, nobody failed or quarantined', async (fault, busy) => {
    await relayBecomes(busy);
    await seedProfiles(stack.db, manyProfiles(60, 'busy.example'));
    const handle = await stack.start(baseSpec({ messagesPerSecond: 100 }), FAST_FAILOVER);
    await waitForState(handle, 'sending', 60_000);
    const busyUntil = Date.now() + 10_000;
    while (Date.now() < busyUntil) {
      expect((await handle.query(statusQuery)).state).toBe('sending'); // never paused: it clears by itself
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(stack.sink.messages).toHaveLength(0);
    expect(await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, OR: [{ status: 'failed' }, { softFailures: { gt: 0 } }] } })).toBe(0);
    await relayBecomes(good);
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ sent: 60, failed: 0, pending: 0 });
    const row = await account(stack, handle.workflowId, `relay: ${fault}`, 1);
    expect(row).toMatchObject({ recipients: 60, received: 60, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });

  it('refusing 30% of recipients (550 5.1.1): the guard pauses the delivery within a few dozen messages', async () => {
    const WINDOW = 100;
    const bad = (email: string) => Number(/\d+/.exec(email)?.[0]) % 10 < 3;
    let rcpts = 0;
    await relayBecomes({
      ...good,
      refuseRecipient: (address) => {
        rcpts++;
        return bad(address) ? { code: 550, message: `5.1.1 <${address}>: user unknown` } : undefined;
      },
    });
    await seedProfiles(stack.db, manyProfiles(1000, 'list.example'));
    const handle = await stack.start(baseSpec({ guard: { maxHardFailureRate: 0.1, window: WINDOW } }), FAST_FAILOVER);
    await waitForState(handle, 'paused', 60_000);
    const { pausedBecause } = await handle.query(statusQuery);
    // Judged on a small sample (the Wilson lower bound of the rate above 10%), long before a full window.
    const judged = Number(/^failures reached \d+\.\d% of the last (\d+) messages, above the guard's 10% \(user unknown \d+\)/.exec(pausedBecause ?? '')?.[1]);
    expect(judged).toBeGreaterThanOrEqual(20);
    expect(judged).toBeLessThan(WINDOW);
    expect((await handle.query(logsQuery)).entries.map((e) => e.message)).toContain(`Paused by the engine: ${pausedBecause}`);
    // What left after the trip is what was on the wire meanwhile.
    const after = rcpts - judged;
    expect(after).toBeLessThanOrEqual(4 * CONNECTIONS); // in practice: the messages already handed to the pool
    await eventually(async () => (await stack.db.sendingLog.count({ where: { deliveryId: handle.workflowId, status: 'sending' } })) === 0, 10_000, 'rows given back');
    await handle.cancel();
    await waitForState(handle, 'stopped');
    const row = await account(stack, handle.workflowId, `30% of recipients refused (guard: 10%, window ${WINDOW}): paused after ${judged}, ${after} sent after the threshold; then stopped`, 1, bad);
    expect(row).toMatchObject({ recipients: 1000, lost: 0, duplicates: 0, failedWrongly: 0, quarantinedWrongly: 0 });
  });
});
