import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TEST_DATA = path.join(ROOT, '.data', 'test');
export const TEMPLATE_DB = path.join(TEST_DATA, 'template.db');
export const WORKFLOW_BUNDLE = path.join(TEST_DATA, 'workflow-bundle.js');

/** Set to a Postgres URL (any database: used as the admin connection) to run the suite on Postgres. */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL;
export const POSTGRES_TEMPLATE_DB = 'delivery_test_template';

/** The same server URL with another database name. */
export function postgresUrlFor(database: string): string {
  const url = new URL(TEST_POSTGRES_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}
