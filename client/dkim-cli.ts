// `delivery dkim`: the DKIM keys of sender domains. Mail from a domain with keys is signed with each of them (two
// selectors during a rotation); `dns` prints the TXT records to publish. Private keys are stored sealed with
// DKIM_KEYS_SECRET and never printed.
import fs from 'node:fs';
import type { Command } from 'commander';
import { DOMAIN } from '../domain/spec';
import { DKIM_KEY_TYPES, dkimDnsRecord, dkimPrivateKey, generateDkimKey, type DkimKeyType } from '../domain/dkim-keys';
import { dkimKeys } from '../store/dkim-keys';
import { dkimKeysSecret } from '../temporal/config';
import { withDatabase } from './audience-cli';
import { InputError } from './errors';
import { printable, table } from './format';

/** A DNS label or several (s2026, mail.2026): what `<selector>._domainkey.<domain>` can hold. */
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

function domainName(domain: string): string {
  if (!DOMAIN.test(domain)) throw new InputError(`"${printable(domain)}" is not a domain: give the sender's domain lower-case, such as shop.example`);
  return domain;
}

function selectorName(selector: string): string {
  if (!SELECTOR.test(selector)) throw new InputError(`--selector "${printable(selector)}" must be lower-case letters, digits and hyphens (dots between labels), such as s2026`);
  return selector;
}

function keyTypeOf(value: string): DkimKeyType {
  if (!(DKIM_KEY_TYPES as readonly string[]).includes(value)) throw new InputError(`--generate must be one of ${DKIM_KEY_TYPES.join(', ')} (got "${printable(value)}")`);
  return value as DkimKeyType;
}

function keyFromFile(file: string): { privateKey: string; keyType: string } {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`Cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'FILE');
  }
  const key = dkimPrivateKey(pem);
  if (!key.ok) throw new InputError(`--key ${file} ${key.problem}. Nothing was changed.`, 'INVALID_KEY');
  return key;
}

function printRecords(records: Array<{ name: string; value: string }>): void {
  for (const r of records) console.log(`${r.name}. IN TXT "${r.value}"`);
}

export function registerDkimCommands(program: Command): void {
  const dkim = program.command('dkim').description('DKIM keys of sender domains: mail from a domain with keys is signed with each');
  dkim.command('add <domain>')
    .description('add a signing key to a sender domain (a second selector: both sign until the old one is removed)')
    .requiredOption('--selector <selector>', 'the DNS selector, such as s2026 (the record is <selector>._domainkey.<domain>)', selectorName)
    .option('--key <file>', 'a PEM private key (RSA of 1024 bits at least, or ed25519)')
    .option('--generate <type>', `generate the key: ${DKIM_KEY_TYPES.join(' | ')}`, keyTypeOf)
    .action(async (domain: string, opts: { selector: string; key?: string; generate?: DkimKeyType }) => {
      domainName(domain);
      if (!opts.key === !opts.generate) throw new InputError('give either --key <file> or --generate rsa-2048|ed25519');
      const key = opts.key ? keyFromFile(opts.key) : { privateKey: generateDkimKey(opts.generate!), keyType: opts.generate! };
      const signing = { domain, selector: opts.selector, privateKey: key.privateKey };
      await withDatabase(async (db) => {
        if (!(await dkimKeys(db, dkimKeysSecret()).add(signing, key.keyType))) {
          throw new InputError(`${domain} already has the selector ${opts.selector}: pick another one for a new key (see "delivery dkim list ${domain}")`, 'EXISTS');
        }
      });
      console.log(`${domain}: ${key.keyType} key added with selector ${opts.selector}; mail from ${domain} is signed with it from the next sending.`);
      console.log('Publish this record before sending (receivers cannot verify the signature until it resolves):');
      printRecords([dkimDnsRecord(signing)]);
    });
  dkim.command('list [domain]').description('the keys (never their private part)').option('--json', 'print as JSON').action(async (domain: string | undefined, opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const rows = await dkimKeys(db, dkimKeysSecret()).list(domain && domainName(domain));
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(table(['Domain', 'Selector', 'Key', 'Added'], rows.map((r) => [r.domain, r.selector, r.keyType, r.createdAt.toISOString()])));
    });
  });
  dkim.command('dns <domain>').description('the TXT records to publish for the domain\'s keys').option('--json', 'print as JSON').action(async (domain: string, opts: { json?: boolean }) => {
    await withDatabase(async (db) => {
      const keys = await dkimKeys(db, dkimKeysSecret()).keysFor(domainName(domain));
      if (keys.length === 0 || keys[0].domain !== domain) throw new InputError(`${domain} has no DKIM key: add one with "delivery dkim add ${domain} --selector s2026 --generate rsa-2048"`, 'NOT_FOUND');
      const records = keys.map(dkimDnsRecord);
      if (opts.json) console.log(JSON.stringify(records, null, 2));
      else printRecords(records);
    });
  });
  dkim.command('remove <domain>')
    .description('stop signing with a key (at the end of a rotation, once the new selector has signed for a few days)')
    .requiredOption('--selector <selector>', 'the selector to remove', selectorName)
    .action(async (domain: string, opts: { selector: string }) => {
      await withDatabase(async (db) => {
        const store = dkimKeys(db, dkimKeysSecret());
        if (!(await store.remove(domainName(domain), opts.selector))) throw new InputError(`${domain} has no selector ${opts.selector}: nothing removed (see "delivery dkim list ${domain}")`, 'NOT_FOUND');
        const left = (await store.list(domain)).length;
        console.log(`${domain}: selector ${opts.selector} removed; ${left ? `${left} key(s) still sign` : 'its mail is no longer signed'}. Keep its DNS record a few days: mail already sent is verified against it.`);
      });
    });
}
