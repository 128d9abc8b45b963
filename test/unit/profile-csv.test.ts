import { csvColumns, keyColumnProblem, keyValueProblem, parseImportKey, parseProfileCsv } from '../../domain/profile-csv';

const csv = (s: string) => Buffer.from(s, 'utf8');

describe('profile CSV import', () => {
  it('maps known columns, loose header names and extra columns to attributes', () => {
    const r = parseProfileCsv(csv('Email,First Name,last_name,optOut,city\nann@example.com,Ann,Lee,yes,Paris\n'));
    expect(r).toEqual({ ok: true, rejected: [], profiles: [
      { email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', language: '', country: '', optOut: true, attributes: { city: 'Paris' } },
    ] });
  });

  it('rejects bad rows with their row number and reason', () => {
    const r = parseProfileCsv(csv('email,firstName,optOut\nok@example.com,A,no\nnot-an-address,B,no\nc@example.com,C\nd@example.com,D,maybe\n,E,no\n'));
    expect(r.ok && r.rejected).toEqual([
      { row: 3, reason: 'email: "not-an-address" is not a valid address' },
      { row: 4, reason: 'expected 3 fields (as in the header), found 2' },
      { row: 5, reason: 'optOut: "maybe" is not a yes/no value (use true/false, yes/no or 1/0)' },
      { row: 6, reason: 'email: empty' },
    ]);
    expect(r.ok && r.profiles.map((p) => p.email)).toEqual(['ok@example.com']);
  });

  it('keeps a quoted newline in an attribute but refuses one in a name', () => {
    const r = parseProfileCsv(csv('email,firstName,note\na@example.com,A,"two\nlines"\nb@example.com,"B\nBcc: x@y.example",x\n'));
    expect(r.ok && r.profiles[0].attributes.note).toBe('two\nlines');
    expect(r.ok && r.rejected).toEqual([{ row: 3, reason: 'firstName: contains a line break' }]);
  });

  it('refuses NUL and escape characters in any field, with its row', () => {
    const r = parseProfileCsv(csv('email,firstName,note\na@example.com,A\u0000,x\nb@example.com,B,\u001b[2Jcleared\nc@example.com,C,fine\n'));
    expect(r.ok && r.rejected).toEqual([
      { row: 2, reason: 'firstName: contains a control character (NUL, escape…): remove it' },
      { row: 3, reason: 'note: contains a control character (NUL, escape…): remove it' },
    ]);
    expect(r.ok && r.profiles.map((p) => p.email)).toEqual(['c@example.com']);
  });

  it('refuses a file without an email header, a non-UTF-8 file, an empty file', () => {
    expect(parseProfileCsv(csv('ann@example.com,Ann\n'))).toEqual({ ok: false, error: expect.stringMatching(/^the header row has no "email" column/) });
    expect(parseProfileCsv(Buffer.from([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x0a, 0xe9, 0x40, 0x61, 0x2e, 0x62]))).toEqual({ ok: false, error: expect.stringMatching(/^the file is not UTF-8/) });
    expect(parseProfileCsv(csv(''))).toEqual({ ok: false, error: expect.stringMatching(/^the file is empty/) });
    expect(parseProfileCsv(csv('email,email\n'))).toEqual({ ok: false, error: 'the header names the column "email" twice' });
  });

  it('refuses broken CSV quoting', () => {
    expect(parseProfileCsv(csv('email,firstName\na@example.com,"unclosed\n'))).toMatchObject({ ok: false, error: expect.stringMatching(/^the file is not valid CSV/) });
  });

  it('takes an attribute column as the import key, the address by default, and refuses other fields and odd names', () => {
    expect(parseImportKey('customerId')).toEqual({ ok: true, key: 'customerId' });
    expect(parseImportKey('Email')).toEqual({ ok: true }); // the address: the default match
    expect(parseImportKey('first_name')).toEqual({ ok: false, error: '--key first_name: firstName does not identify a profile; use email (the default) or an attribute column such as customerId' });
    expect(parseImportKey("id'); DROP TABLE x; --")).toMatchObject({ ok: false, error: expect.stringContaining('letters, digits and _') });
    const header = csvColumns(['email', 'crm_id:text']);
    expect(header.ok && keyColumnProblem(header.columns, 'crm_id')).toBeUndefined();
    expect(header.ok && keyColumnProblem(header.columns, 'customerId')).toBe('the header has no column "customerId" for --key customerId (columns: email, crm_id)');
    const row = parseProfileCsv(csv('email,crm_id\na@example.com,\n'));
    expect(row.ok && keyValueProblem(row.profiles[0], 'crm_id')).toBe("crm_id: empty, but it is the import's key (--key crm_id): every row needs one");
  });
});
