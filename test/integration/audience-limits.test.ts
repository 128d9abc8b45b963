// Every condition that validates can be prepared, on SQLite and Postgres alike: long "in" lists are bound as one
// list, what no database could evaluate is refused at validation with the field and the limit, and a preparation
// that meets a bad audience fails the delivery with the cause instead of being retried forever.
import { statusQuery } from '../../workflows/messages';
import { baseSpec, seedProfiles, startTestStack, waitForState, type TestStack } from '../helpers/stack';
import { inputFiles, runCli, workflowCount } from '../helpers/cli';

const D = 'limits.example';

describe('audience limits', () => {
  let stack: TestStack;
  const file = inputFiles('limits-');
  beforeAll(async () => {
    stack = await startTestStack();
    await seedProfiles(stack.db, Array.from({ length: 30 }, (_, k) => ({
      email: `p${k + 1}@${D}`, firstName: `P${k + 1}`, attributes: { n: k + 1, code: `C${k + 1}` },
    })));
  });
  afterAll(async () => stack?.close());

  it('prepares and sends an audience of 1,000-value "in" and "nin" lists, exactly', async () => {
    // 10 real addresses among 1,000; a "nin" of numbers and text mixed (numbers match numbers, text matches text).
    const emails = [...Array.from({ length: 10 }, (_, k) => `p${k + 1}@${D}`), ...Array.from({ length: 990 }, (_, k) => `nobody${k}@${D}`)];
    const excluded = [2, 4, ...Array.from({ length: 997 }, (_, k) => 1000 + k), '6'];
    const handle = await stack.start(baseSpec({ audience: { where: { email: { in: emails }, 'attributes.n': { nin: excluded } } } }));
    const { kpis } = await handle.result();
    expect(kpis).toMatchObject({ targeted: 7, toDeliver: 7, sent: 7 });
    expect(stack.sink.messages.map((m) => m.to).sort()).toEqual([1, 3, 5, 7, 8, 9, 10].map((n) => `p${n}@${D}`).sort());
  }, 120_000);

  it('refuses at the start a condition nested 20,000 levels deep, naming where and the limit, and starts nothing', async () => {
    const deep = `${'{"not":'.repeat(20_000)}{"country":"FR"}${'}'.repeat(20_000)}`; // too deep for JSON.stringify to write
    const spec = JSON.stringify(baseSpec({ audience: { where: 'DEEP' } })).replace('"DEEP"', deep);
    const before = await workflowCount(stack);
    const r = await runCli(stack, ['start', file('deep.json', spec)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`audience.where${'.not'.repeat(21)}: nested more than 20 levels deep (and / or / not): flatten the condition`);
    expect(r.stderr).not.toMatch(/RangeError|Maximum call stack/);
    expect(await workflowCount(stack)).toBe(before);
  });

  it('fails the preparation with the cause, at once, when its segments together exceed the limits', async () => {
    const half = (offset: number) => JSON.stringify({ or: Array.from({ length: 300 }, (_, k) => ({ 'attributes.code': `X${offset + k}` })) });
    expect((await runCli(stack, ['segments', 'create', 'left', half(0)])).code).toBe(0);
    expect((await runCli(stack, ['segments', 'create', 'right', half(300)])).code).toBe(0);
    const both = { or: [{ segment: 'left' }, { segment: 'right' }] };
    const counted = await runCli(stack, ['segments', 'create', 'both', JSON.stringify(both)]);
    expect(counted.code).toBe(2);
    expect(counted.stderr).toContain('segment "both": holds 603 conditions (its segments included), more than 500');
    // Started straight through Temporal (no check at the edge): the preparation fails for good, it does not loop.
    const handle = await stack.start(baseSpec({ audience: { where: both } }));
    await waitForState(handle, 'failed', 30_000);
    const status = await handle.query(statusQuery);
    expect(status.error).toContain('audience.where: holds 603 conditions (its segments included), more than 500: put long lists of values in one "in" list');
    const attempts = (await handle.fetchHistory()).events?.filter((e) => e.activityTaskFailedEventAttributes).length;
    expect(attempts).toBe(1); // failed once, not retried
  }, 60_000);
});
