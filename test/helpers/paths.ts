import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** Where a run keeps its files (wiped when it starts): the chaos run has its own, so that it and the suites can run side by side. */
export const TEST_DATA = path.resolve(ROOT, process.env.TEST_DATA_DIR ?? path.join('.data', 'test'));
export const TEMPLATE_DB = path.join(TEST_DATA, 'template.db');
export const WORKFLOW_BUNDLE = path.join(TEST_DATA, 'workflow-bundle.js');

/**
 * How tests start a worker or tracking process: as the Dockerfile does, from the engine compiled into dist/ (the
 * global setup runs `npm run build`), the worker with its V8 flag.
 */
export const WORKER_PROCESS = ['--heap-growing-percent=30', path.join(ROOT, 'dist', 'worker', 'main.js')];
export const TRACKING_PROCESS = [path.join(ROOT, 'dist', 'tracking', 'main.js')];

/** Set to a Postgres URL (any database: used as the admin connection) to run the suite on Postgres. */
export const TEST_POSTGRES_URL = process.env.TEST_DATABASE_URL;
export const POSTGRES_TEMPLATE_DB = `delivery_${path.basename(TEST_DATA).replace(/[^a-z0-9]/g, '_')}_template`;

/** The same server URL with another database name. */
export function postgresUrlFor(database: string): string {
  const url = new URL(TEST_POSTGRES_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}
