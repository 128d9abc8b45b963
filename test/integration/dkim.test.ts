// DKIM on the real stack: keys added with the CLI (generated RSA-2048 and ed25519, or a PEM file), deliveries signed
// by the worker's signing pool, verified by an independent verifier (mailauth) against the TXT records that
// `delivery dkim dns` prints; a rotation signs with both selectors, then with the new one alone; a sender domain
// without a key is warned about at preparation; proofs are signed; keys at rest are sealed.
import { generateKeyPairSync } from 'node:crypto';
import { dkimVerify } from 'mailauth/lib/dkim/verify';
import { baseSpec, eventually, seedProfiles, startTestStack, type TestStack } from '../helpers/stack';
import { inputFiles, runCli } from '../helpers/cli';
import { logsQuery } from '../../workflows/messages';
import type { DeliveryHandle } from '../../client/deliveries';

/** A DNS holding exactly the TXT records `delivery dkim dns --json` printed. */
function dnsOf(records: Array<{ name: string; value: string }>) {
  const byName = new Map(records.map((r) => [r.name, r.value]));
  return async (name: string, type: string) => {
    const value = type === 'TXT' ? byName.get(name) : undefined;
    if (!value) throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
    return [[value]];
  };
}

async function verdicts(raw: Buffer, records: Array<{ name: string; value: string }>): Promise<string[]> {
  const { results } = await dkimVerify(raw, { resolver: dnsOf(records) });
  return results.map((r) => `${r.signingDomain}/${r.selector}: ${r.status.result}`).sort();
}

describe('DKIM signing of deliveries', () => {
  let stack: TestStack;
  const file = inputFiles('dkim-');
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.close());

  const published = async (domain: string) => {
    const r = await runCli(stack, ['dkim', 'dns', domain, '--json']);
    expect(r).toMatchObject({ code: 0 });
    return JSON.parse(r.stdout) as Array<{ name: string; value: string }>;
  };

  const logMessages = async (h: DeliveryHandle) => (await h.query(logsQuery)).entries.map((e) => `${e.level}: ${e.message}`);

  async function send(overrides: Record<string, unknown> = {}) {
    stack.sink.messages.length = 0;
    const handle = await stack.start(baseSpec(overrides));
    return { handle, result: await handle.result() };
  }

  it('warns at preparation when the sender domain has no key, and sends unsigned', async () => {
    await seedProfiles(stack.db, Array.from({ length: 5 }, (_, i) => ({ email: `p${i}@example.com`, firstName: `P${i}` })));
    const { handle, result } = await send();
    expect(result.kpis).toMatchObject({ sent: 5, failed: 0 });
    expect(await logMessages(handle)).toContainEqual(expect.stringMatching(/^warning: control rule "DKIM signature": the sender domain shop\.example has no DKIM key: its mail goes out unsigned/));
    expect(stack.sink.messages.every((m) => !m.raw.toString().includes('DKIM-Signature'))).toBe(true);
  });

  it('signs every message with the keys the CLI added, and each verifies against the records it prints', async () => {
    const rsa = await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 's2026', '--generate', 'rsa-2048']);
    expect(rsa).toMatchObject({ code: 0, stdout: expect.stringMatching(/s2026\._domainkey\.shop\.example\. IN TXT "v=DKIM1; k=rsa; p=/) });
    // An ed25519 key brought as a file (PKCS#8 PEM): a rotation to it, both signing during the overlap.
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 'e2027', '--key', file('ed.pem', ed)])).toMatchObject({ code: 0 });
    const records = await published('shop.example');
    expect(records.map((r) => r.name)).toEqual(['s2026._domainkey.shop.example', 'e2027._domainkey.shop.example']);

    const { handle, result } = await send();
    expect(result.kpis).toMatchObject({ sent: 5, failed: 0 });
    expect((await logMessages(handle)).filter((l) => l.includes('DKIM'))).toEqual([]);
    await stack.sink.waitForCount(5);
    for (const m of stack.sink.messages) {
      expect(await verdicts(m.raw, records)).toEqual(['shop.example/e2027: pass', 'shop.example/s2026: pass']);
    }
    // Each signature covers the headers bulk mail carries.
    const signature = /^DKIM-Signature:[^]*?(?=\r\n\S)/m.exec(stack.sink.messages[0].raw.toString())![0];
    const covered = /\bh=([^;]*);/.exec(signature.replace(/\s+/g, ''))![1].toLowerCase().split(':');
    expect(covered).toEqual(expect.arrayContaining(['from', 'to', 'subject', 'message-id', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'feedback-id']));
  });

  it("after the old selector is removed, signs with the new one alone; a subdomain sender is signed by its parent domain's keys", async () => {
    const before = await published('shop.example');
    expect(await runCli(stack, ['dkim', 'remove', 'shop.example', '--selector', 's2026'])).toMatchObject({ code: 0, stdout: expect.stringContaining('1 key(s) still sign') });
    const after = await published('shop.example');
    expect(after.map((r) => r.name)).toEqual(['e2027._domainkey.shop.example']);
    const { result } = await send();
    expect(result.kpis).toMatchObject({ sent: 5, failed: 0 });
    for (const m of stack.sink.messages) expect(await verdicts(m.raw, after)).toEqual(['shop.example/e2027: pass']);
    // A subdomain sender is signed by its parent's keys (DMARC's relaxed alignment).
    const sub = await send({ from: 'Shop <news@mail.shop.example>' });
    expect(sub.result.kpis).toMatchObject({ sent: 5 });
    for (const m of stack.sink.messages) expect(await verdicts(m.raw, before)).toEqual(['shop.example/e2027: pass']);
  });

  it('signs proofs like the real thing', async () => {
    stack.sink.messages.length = 0;
    const handle = await stack.start(baseSpec({ approval: 'manual', proof: { to: ['team@shop.example'] } }));
    await eventually(async () => (await logMessages(handle)).some((l) => l.startsWith('info: Waiting for approval')), 60_000, 'prepared');
    await handle.signal('proof');
    await eventually(async () => (await logMessages(handle)).some((l) => l.startsWith('info: Proof #1 sent')), 60_000, 'proof sent');
    const proof = stack.sink.messages.find((m) => m.to === 'team@shop.example');
    expect(proof?.mail.subject).toMatch(/^Proof #1/);
    expect(await verdicts(proof!.raw, await published('shop.example'))).toEqual(['shop.example/e2027: pass']);
    expect(proof!.raw.toString()).toMatch(/^List-Id: "Mailings of shop\.example" <mailings\.shop\.example>\r$/m);
    expect(proof!.raw.toString()).toMatch(/^Feedback-ID: \S+:default:shop\.example\r$/m);
    await handle.cancel();
  });

  it('keeps private keys sealed at rest, and refuses keys that cannot sign, changing nothing', async () => {
    const rows = await stack.db.dkimKey.findMany();
    expect(rows.length).toBe(1);
    expect(rows.every((r) => !r.sealedKey.includes('PRIVATE KEY') && !Buffer.from(r.sealedKey, 'base64').toString('latin1').includes('PRIVATE KEY'))).toBe(true);
    const pub = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const refused = await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 'pub', '--key', file('pub.pem', pub)]);
    expect(refused).toMatchObject({ code: 2, stderr: expect.stringContaining('is not a PEM private key') });
    expect(await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 'e2027', '--generate', 'ed25519'])).toMatchObject({ code: 2, stderr: expect.stringContaining('already has the selector e2027') });
    expect(await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 'Bad_Selector', '--generate', 'ed25519'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--selector') });
    expect(await runCli(stack, ['dkim', 'add', 'shop.example', '--selector', 'x1'])).toMatchObject({ code: 2, stderr: expect.stringContaining('either --key <file> or --generate') });
    expect(await stack.db.dkimKey.count()).toBe(1);
    // Another DKIM_KEYS_SECRET does not open them, and says so.
    const wrong = await runCli(stack, ['dkim', 'dns', 'shop.example'], { DKIM_KEYS_SECRET: 'w'.repeat(32) });
    expect(wrong).toMatchObject({ stderr: expect.stringContaining('does not open with this DKIM_KEYS_SECRET') });
    expect(wrong.code).not.toBe(0);
  });
});
