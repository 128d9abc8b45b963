import type { MetricCounter } from '@temporalio/common';
import type { Database } from '../store/prisma';
import type { TrackingSetup } from '../domain/message';
import type { Mailer } from './mailer';
import type { SignalProgress } from './progress';
import type { MxLookup } from './sending/providers';

/** What the activities need from the worker process (one of each per worker). */
export interface ActivityDeps {
  db: Database;
  mailer: Mailer;
  signalProgress: SignalProgress;
  /** How often progress is heartbeated and signalled (ms). */
  progressEveryMs?: number;
  /** How long a sending attempt waits for a failing database before it gives up (default 10 minutes). */
  databaseRetryMs?: number;
  /** Soft failures of an address before it is quarantined. */
  softErrorsBeforeQuarantine: number;
  /** Domain of the signed VERP return paths (bounces+<sending log id>-<tag>@domain) routed to the bounce listener. */
  bounceDomain?: string;
  /** Where tracking links point and the key that signs them. */
  tracking: TrackingSetup;
  /** DKIM signing: the secret that opens the keys (DKIM_KEYS_SECRET) and the signing threads. Absent: nothing is signed. */
  dkim?: { secret: string; threads?: number };
  /** How a recipient domain's MX hosts are found (DNS when absent; tests give their own). */
  lookupMx?: MxLookup;
  /** Message counters exported as metrics (absent in unit tests). */
  metrics?: { sent: MetricCounter; failed: MetricCounter; retried: MetricCounter };
}
