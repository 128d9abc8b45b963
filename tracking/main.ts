// `npm run tracking`: the tracking server alone, configured by environment (see README).
import { Client, Connection } from '@temporalio/client';
import { openDatabase } from '../store/prisma';
import { espWebhookConfig, softErrorsBeforeQuarantine, temporalConfig, trackingConfig } from '../temporal/config';
import { startTrackingServer } from './server';
import { parseTrustProxy } from './client-address';

async function main(): Promise<void> {
  const tracking = trackingConfig();
  const temporal = temporalConfig();
  const trustProxy = parseTrustProxy(process.env.TRUST_PROXY);
  if (trustProxy && 'problem' in trustProxy) throw new Error(trustProxy.problem);
  const db = await openDatabase();
  // Lazy: the server answers (redirects, pixels, unsubscriptions, all stored) while Temporal is down or not up yet;
  // the KPIs reach the deliveries once it is back.
  const connection = Connection.lazy({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const server = await startTrackingServer({ db, client, tracking, port: tracking.port, host: '0.0.0.0', requestsPerSecond: tracking.requestsPerSecond, trustProxy,
    esp: espWebhookConfig(), softErrorsBeforeQuarantine: softErrorsBeforeQuarantine() });
  console.log(`tracking server: listening on port ${server.port}, links point to ${tracking.baseUrl}`);
  const stop = async () => {
    await server.close();
    await connection.close();
    await db.$disconnect();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
