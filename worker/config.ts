// Configuration by environment, shared by the worker, the CLI and the embedded stack.
import { DEFAULT_TASK_QUEUE } from '../workflows/messages';
import { DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE } from '../domain/quarantine';

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
}

export function temporalConfig(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}

/** The embedded default is the local SMTP capture server started by `npm start`. */
export const DEFAULT_SMTP_URL = 'smtp://127.0.0.1:2525';

export function smtpConfig(env: NodeJS.ProcessEnv = process.env): { url: string; maxConnections: number } {
  const maxConnections = Number(env.SMTP_MAX_CONNECTIONS ?? 5);
  if (!Number.isInteger(maxConnections) || maxConnections < 1 || maxConnections > 200) {
    throw new Error(`SMTP_MAX_CONNECTIONS must be a whole number from 1 to 200 (got "${env.SMTP_MAX_CONNECTIONS}")`);
  }
  return { url: env.SMTP_URL ?? DEFAULT_SMTP_URL, maxConnections };
}

/** Soft failures of an address before it is quarantined (QUARANTINE_SOFT_ERRORS, default 5). */
export function softErrorsBeforeQuarantine(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.QUARANTINE_SOFT_ERRORS ?? DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE);
  if (!Number.isInteger(n) || n < 1) throw new Error(`QUARANTINE_SOFT_ERRORS must be a whole number above 0 (got "${env.QUARANTINE_SOFT_ERRORS}")`);
  return n;
}

/** The bounce listener (BOUNCE_PORT; off when unset) and the VERP domain routed to it (BOUNCE_DOMAIN). */
export function bounceConfig(env: NodeJS.ProcessEnv = process.env): { port?: number; domain?: string } {
  const port = env.BOUNCE_PORT === undefined ? undefined : Number(env.BOUNCE_PORT);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`BOUNCE_PORT must be a port number (got "${env.BOUNCE_PORT}")`);
  }
  return { port, domain: env.BOUNCE_DOMAIN || undefined };
}
