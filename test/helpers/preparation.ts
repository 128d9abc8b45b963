// The preparation activity run on its own (Temporal's activity environment) against a test database: what the sending
// plans' tests read back from the sending logs it writes. Nothing is sent.
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Mailer } from '../../activities/mailer';
import { prepareActivity } from '../../activities/prepare';
import type { PreparationResult } from '../../domain/delivery';
import { deliverySpecSchema } from '../../domain/spec';
import type { Database } from '../../store/prisma';

const noMailer: Mailer = { maxConnections: 1, send: () => Promise.reject(new Error('not sending')), close: () => undefined };

/** Prepares `spec` as delivery `deliveryId` (run key `<id>-run#1`: a second call resumes the same preparation). */
export function prepareOn(db: Database, deliveryId: string, spec: Record<string, unknown>): Promise<PreparationResult> {
  return new MockActivityEnvironment().run(
    prepareActivity({ db, mailer: noMailer, signalProgress: async () => undefined, softErrorsBeforeQuarantine: 3, tracking: { baseUrl: 'http://localhost:8090', secret: 'test-secret-0123456789' } }),
    { deliveryId, runKey: `${deliveryId}-run#1`, spec: deliverySpecSchema.parse(spec) },
  ) as Promise<PreparationResult>;
}
