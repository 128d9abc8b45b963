// Configuration by environment, shared by the worker, the CLI and the embedded stack.
import { createPublicKey, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_TASK_QUEUE } from '../workflows/messages';
import { DATA_DIR } from '../store/database-url';
import type { TrackingSetup } from '../domain/message';
import { DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE } from '../domain/quarantine';
import { ESPS, type Esp } from '../domain/esp-events';
import { parseSecretList } from '../domain/secrets';

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

/** Activities one worker runs at once (MAX_CONCURRENT_ACTIVITIES, default 20): each preparation or parallel sender holds one. */
export function maxConcurrentActivities(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.MAX_CONCURRENT_ACTIVITIES ?? 20);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`MAX_CONCURRENT_ACTIVITIES must be a whole number from 1 to 1000 (got "${env.MAX_CONCURRENT_ACTIVITIES}")`);
  return n;
}

/** How long a sending attempt waits for a failing database before it gives up (DATABASE_RETRY_SECONDS, default 600). */
export function databaseRetryMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.DATABASE_RETRY_SECONDS ?? 600);
  if (!Number.isFinite(s) || s < 1 || s > 86_400) throw new Error(`DATABASE_RETRY_SECONDS must be a number of seconds from 1 to 86400 (got "${env.DATABASE_RETRY_SECONDS}")`);
  return s * 1000;
}

/** Soft failures of an address before it is quarantined (QUARANTINE_SOFT_ERRORS, default 5). */
export function softErrorsBeforeQuarantine(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.QUARANTINE_SOFT_ERRORS ?? DEFAULT_SOFT_ERRORS_BEFORE_QUARANTINE);
  if (!Number.isInteger(n) || n < 1) throw new Error(`QUARANTINE_SOFT_ERRORS must be a whole number above 0 (got "${env.QUARANTINE_SOFT_ERRORS}")`);
  return n;
}

/**
 * The bounce listener (BOUNCE_PORT; off when unset) on BOUNCE_HOST (default 127.0.0.1: expose it on purpose),
 * and the VERP domain routed to it (BOUNCE_DOMAIN).
 */
export function bounceConfig(env: NodeJS.ProcessEnv = process.env): { port?: number; host: string; domain?: string } {
  const host = env.BOUNCE_HOST?.trim() || '127.0.0.1';
  if (!/^[0-9A-Za-z.:-]+$/.test(host)) throw new Error(`BOUNCE_HOST must be an interface address such as 127.0.0.1 or 0.0.0.0 (got "${env.BOUNCE_HOST}")`);
  return { port: env.BOUNCE_PORT === undefined ? undefined : portFrom('BOUNCE_PORT', env.BOUNCE_PORT), host, domain: env.BOUNCE_DOMAIN || undefined };
}

export interface TrackingConfig extends TrackingSetup {
  /** Port of the tracking server (TRACKING_PORT, default 8090). */
  port: number;
  /** Requests per second per client address before 429 (TRACKING_REQUESTS_PER_SECOND, default 50). */
  requestsPerSecond: number;
}

/**
 * Tracking links point to TRACKING_BASE_URL (default: the local tracking server) and are signed with
 * TRACKING_SECRET, which workers, tracking servers and bounce listeners must share. Without it, one is generated
 * into .data/tracking-secret (fine for one machine; set it explicitly when processes run apart).
 */
export function trackingConfig(env: NodeJS.ProcessEnv = process.env): TrackingConfig {
  const port = portFrom('TRACKING_PORT', env.TRACKING_PORT ?? '8090');
  const baseUrl = (env.TRACKING_BASE_URL ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(baseUrl)) {
    throw new Error(`TRACKING_BASE_URL must be an http(s) URL such as https://t.shop.example (got "${env.TRACKING_BASE_URL}")`);
  }
  const requestsPerSecond = Number(env.TRACKING_REQUESTS_PER_SECOND ?? 50);
  if (!(requestsPerSecond > 0)) throw new Error(`TRACKING_REQUESTS_PER_SECOND must be a number above 0 (got "${env.TRACKING_REQUESTS_PER_SECOND}")`);
  const secrets = trackingSecrets(env);
  return { port, baseUrl, secret: secrets[0], verifyWith: secrets, requestsPerSecond, relayEsp: relayEsp(env) };
}

/** TRACKING_SECRET: one secret, or a rotation `new,old` (the first signs, all verify); else a generated one. */
function trackingSecrets(env: NodeJS.ProcessEnv): string[] {
  if (env.TRACKING_SECRET === undefined) return [generatedSecret('tracking-secret')];
  const secrets = parseSecretList(env.TRACKING_SECRET, 'TRACKING_SECRET');
  if ('problem' in secrets) throw new Error(secrets.problem);
  return secrets;
}

/**
 * The key of the hashes an erasure keeps (ERASURE_SECRET): without it, anyone holding the database and a list of
 * candidate addresses could tell who was erased. It never rotates (an erased person's opt-out must be recognised
 * for good): set it once, the same wherever profiles are imported or erased, and keep it with the backups.
 */
export function erasureSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ERASURE_SECRET === undefined) return generatedSecret('erasure-secret');
  if (env.ERASURE_SECRET.trim().length < 16) throw new Error('ERASURE_SECRET must be at least 16 characters (e.g. `openssl rand -hex 32`); never change it once set');
  return env.ERASURE_SECRET.trim();
}

/**
 * The key that encrypts DKIM private keys at rest (DKIM_KEYS_SECRET): a copy of the database alone then signs no
 * mail. Like ERASURE_SECRET it never changes once keys are stored (they would no longer open): set it once, the
 * same on every worker and wherever `delivery dkim` runs, and keep it apart from the database backups.
 */
export function dkimKeysSecret(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DKIM_KEYS_SECRET === undefined) return generatedSecret('dkim-keys-secret');
  if (env.DKIM_KEYS_SECRET.trim().length < 16) throw new Error('DKIM_KEYS_SECRET must be at least 16 characters (e.g. `openssl rand -hex 32`); never change it once keys are stored');
  return env.DKIM_KEYS_SECRET.trim();
}

/** DKIM signing of the worker: DKIM_KEYS_SECRET, and DKIM_SIGNING_THREADS (default: one per core). */
export function dkimConfig(env: NodeJS.ProcessEnv = process.env): { secret: string; threads?: number } {
  const secret = dkimKeysSecret(env);
  if (env.DKIM_SIGNING_THREADS === undefined || env.DKIM_SIGNING_THREADS === '') return { secret };
  const threads = Number(env.DKIM_SIGNING_THREADS);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new Error(`DKIM_SIGNING_THREADS must be a whole number from 1 to 64 (got "${env.DKIM_SIGNING_THREADS}")`);
  return { secret, threads };
}

/** A secret generated once into DATA_DIR (readable by its owner only): fine for one machine. */
function generatedSecret(name: string): string {
  const file = path.join(DATA_DIR, name);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(DATA_DIR, { recursive: true });
    try {
      fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process wrote it first
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/** Prometheus metrics of the worker (SDK metrics and messages sent/failed) on METRICS_PORT; off when unset. */
export function metricsConfig(env: NodeJS.ProcessEnv = process.env): { port?: number } {
  if (env.METRICS_PORT === undefined || env.METRICS_PORT === '') return {};
  return { port: portFrom('METRICS_PORT', env.METRICS_PORT) };
}

/** A port number from an environment variable (0: any free port), or an error naming the variable. */
function portFrom(name: string, value: string): number {
  const port = Number(value);
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number (got "${value}")`);
  return port;
}

/**
 * The ESPs' event webhooks the tracking server serves, from the environment: SES_TOPIC_ARNS (comma-separated),
 * SENDGRID_WEBHOOK_PUBLIC_KEY, MAILGUN_WEBHOOK_SIGNING_KEY, POSTMARK_WEBHOOK_CREDENTIALS (user:password),
 * ESP_WEBHOOK_MAX_BYTES. An ESP without its setting is not served.
 */
export function espWebhookConfig(env: NodeJS.ProcessEnv = process.env): EspWebhookSettings {
  const set = (name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined);
  const topicArns = set('SES_TOPIC_ARNS')?.split(',').map((a) => a.trim()).filter(Boolean);
  for (const arn of topicArns ?? []) {
    if (!/^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn)) throw new Error(`SES_TOPIC_ARNS: "${arn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`);
  }
  const publicKey = set('SENDGRID_WEBHOOK_PUBLIC_KEY');
  if (publicKey) {
    try {
      createPublicKey({ key: Buffer.from(publicKey, 'base64'), format: 'der', type: 'spki' });
    } catch {
      throw new Error('SENDGRID_WEBHOOK_PUBLIC_KEY must be the verification key SendGrid shows (base64), as it is');
    }
  }
  const credentials = set('POSTMARK_WEBHOOK_CREDENTIALS');
  if (credentials && !/^[^:\s]+:\S{12,}$/.test(credentials)) throw new Error('POSTMARK_WEBHOOK_CREDENTIALS must be user:password, the password 12 characters or more');
  const maxBytes = Number(env.ESP_WEBHOOK_MAX_BYTES ?? 1024 * 1024);
  if (!Number.isInteger(maxBytes) || maxBytes < 1024) throw new Error(`ESP_WEBHOOK_MAX_BYTES must be a whole number of bytes, 1024 or more (got "${env.ESP_WEBHOOK_MAX_BYTES}")`);
  const signingKey = set('MAILGUN_WEBHOOK_SIGNING_KEY');
  return {
    ...(topicArns?.length ? { ses: { topicArns } } : {}),
    ...(publicKey ? { sendgrid: { publicKey } } : {}),
    ...(signingKey ? { mailgun: { signingKey } } : {}),
    ...(credentials ? { postmark: { credentials } } : {}),
    maxBytes,
  };
}

export interface EspWebhookSettings {
  ses?: { topicArns: string[] };
  sendgrid?: { publicKey: string };
  mailgun?: { signingKey: string };
  postmark?: { credentials: string };
  maxBytes: number;
}

/** RELAY_ESP: the ESP the workers relay through, whose tag header names each message in its events. */
export function relayEsp(env: NodeJS.ProcessEnv = process.env): Esp | undefined {
  const v = env.RELAY_ESP?.trim().toLowerCase();
  if (!v) return undefined;
  if (!(ESPS as readonly string[]).includes(v)) throw new Error(`RELAY_ESP must be one of ${ESPS.join(', ')} (got "${env.RELAY_ESP}")`);
  return v as Esp;
}
