// DKIM signing cost per message (`npx tsx bench/dkim-cost.ts`): 2,000 engine messages of ~5 KB signed with RSA-2048, then
// ed25519, as on the calling thread (proofs) and as in a signing thread (each key parsed once: parsed-keys.ts).
import { generateDkimKey } from '../domain/dkim-keys';
import { keepParsedPrivateKeys } from '../activities/sending/parsed-keys';
import { dkimSigner } from '../activities/sending/dkim';
import { deliveryMessages } from '../domain/message';
import { mimeSkeleton } from '../domain/mime';
(async () => {
  const content = { from: 'Shop <news@shop.example>', subject: 'Hi {{firstName}}', html: '<p>' + 'Lorem ipsum dolor sit amet. '.repeat(150) + '</p><a href="https://shop.example/x">x</a>' };
  const m = deliveryMessages('d', content, { baseUrl: 'https://t', secret: 's'.repeat(32) });
  const mime = mimeSkeleton(content.from, 'd');
  const raws = Array.from({ length: 2000 }, (_, i) => mime({ to: `p${i}@example.com`, ...m.compose(i, { firstName: 'A' }) }));
  console.log('message bytes', raws[0].length);
  for (const [type, thread] of [['rsa-2048', false], ['ed25519', false], ['rsa-2048', true], ['ed25519', true]] as const) {
    if (thread && type === 'rsa-2048') keepParsedPrivateKeys(); // once, before the first of the signing thread's runs
    const sign = dkimSigner([{ domain: 'shop.example', selector: 's', privateKey: generateDkimKey(type) }]);
    for (const r of raws.slice(0, 100)) await sign(r);
    const cpu0 = process.cpuUsage(); const t0 = performance.now();
    for (const r of raws) await sign(r);
    const cpu = process.cpuUsage(cpu0); const ms = performance.now() - t0;
    console.log(type, thread ? 'in a signing thread' : 'on the calling thread', `${(ms / raws.length).toFixed(3)} ms/msg wall, ${((cpu.user + cpu.system) / 1000 / raws.length).toFixed(3)} ms/msg CPU`);
  }
})();
