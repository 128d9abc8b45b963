import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const models = (file: string) => {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return text.slice(text.indexOf('\nmodel ') + 1);
};

describe('database schemas', () => {
  it('declare the same models for SQLite and Postgres', () => {
    expect(models('prisma/postgres/schema.prisma')).toBe(models('prisma/schema.prisma'));
  });

  it('have a migration for every model change on both databases', () => {
    const list = (dir: string) => fs.readdirSync(path.join(ROOT, dir)).filter((n) => !n.endsWith('.toml')).sort();
    expect(list('prisma/postgres/migrations')).toEqual(list('prisma/migrations'));
  });
});
