// Deliverability through a real relay: a worker process sends through a private Postfix, which relays to the
// test's SMTP server. What arrives is DKIM-signed with both selectors of a rotation (RSA-2048 and ed25519), verifies
// with an independent verifier against the TXT records `delivery dkim dns` prints, and SpamAssassin (its default
// rules, the records served by a private DNS) scores it lower than the engine's mail before signing and List-Id:
// DKIM_SIGNED, DKIM_VALID, no LIST_* rule.
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { baseSpec, eventually, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { runCli } from '../helpers/cli';
import { startPostfixRelay, type PostfixRelay } from '../helpers/postfix';
import { spamVerdict } from '../helpers/spamassassin';

type TxtRecord = { name: string; value: string };

function dnsOf(records: TxtRecord[]) {
  const byName = new Map(records.map((r) => [r.name, r.value]));
  return async (name: string, type: string) => {
    const value = type === 'TXT' ? byName.get(name) : undefined;
    if (!value) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [[value]];
  };
}

/** The message as the engine sent it before issue 26: no List-Id, no Feedback-ID, no signature. */
function asBefore(raw: string): string {
  return raw.replace(/^(DKIM-Signature|List-Id|Feedback-ID):.*\r\n(?:[ \t].*\r\n)*/gim, '');
}

describe('signed mail through a real Postfix', () => {
  let stack: TestStack;
  let postfix: PostfixRelay;
  beforeAll(async () => {
    stack = await startTestStack({ inProcessWorker: false });
    postfix = await startPostfixRelay({ host: '127.0.0.1', port: stack.sink.port });
  });
  afterAll(async () => {
    await postfix?.stop();
    await stack?.close();
  });

  it('arrives signed by both selectors, verifies, and SpamAssassin scores it better than unsigned mail without List-Id', async () => {
    for (const [selector, type] of [['s2026', 'rsa-2048'], ['e2027', 'ed25519']]) {
      expect(await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', selector, '--generate', type])).toMatchObject({ code: 0 });
    }
    const dns = await runCli(stack, ['dkim', 'dns', 'shop.example', '--json']);
    const records = JSON.parse(dns.stdout) as TxtRecord[];
    expect(records).toHaveLength(2);

    await seedProfiles(stack.db, Array.from({ length: 20 }, (_, i) => ({ email: `r${i}@example.com`, firstName: `R${i}` })));
    stack.spawnWorker({ SMTP_URL: `smtp://127.0.0.1:${postfix.port}` });
    const handle = await stack.start(baseSpec({
      html: '<p>Hi {{firstName}}, our winter sale starts today.</p><p><a href="https://shop.example/sale">See the sale</a> · <a href="{{unsubscribeUrl}}">Unsubscribe</a></p>',
    }));
    expect((await handle.result()).kpis).toMatchObject({ sent: 20, failed: 0 });
    await eventually(async () => stack.sink.messages.length >= 20, 60_000, 'relayed by Postfix');
    expect(stack.sink.messages).toHaveLength(20);

    for (const m of stack.sink.messages) {
      const text = m.raw.toString();
      expect(text).toMatch(/^Received: from .*\r\n\s+by relay\.test \(Postfix\)/); // it went through Postfix
      const { results } = await dkimVerify(m.raw, { resolver: dnsOf(records) });
      expect(results.map((r) => `${r.signingDomain}/${r.selector}: ${r.status.result}`).sort()).toEqual(['shop.example/e2027: pass', 'shop.example/s2026: pass']);
    }
    expect(postfix.log()).toMatch(/status=sent \(250/);

    const sample = stack.sink.messages[0].raw.toString();
    const before = await spamVerdict(asBefore(sample), []);
    const after = await spamVerdict(sample, records);
    expect(before.tests).toContain('LIST_PARTIAL_SHORT_MSG');
    expect(before.tests).not.toContain('DKIM_SIGNED');
    expect(after.tests).toEqual(expect.arrayContaining(['DKIM_SIGNED', 'DKIM_VALID', 'DKIM_VALID_AU']));
    expect(after.tests.filter((t) => t.startsWith('LIST_'))).toEqual([]);
    expect(after.score).toBeLessThan(before.score);
    console.log(`SpamAssassin: before ${before.score} (${before.tests.join(', ')}); after ${after.score} (${after.tests.join(', ')})`);
  });
});
