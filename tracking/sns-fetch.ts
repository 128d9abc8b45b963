// Fetches what Amazon SNS serves (signing certificates, subscription confirmations): https only, from
// sns.<region>.amazonaws.com only (checked before and here again), the certificate chain checked by Node's TLS, small
// answers only. Tests point it at a local HTTPS stub through `connectTo` and `ca`, keeping the AWS host name for TLS.
import https from 'node:https';
import tls from 'node:tls';
import { isSnsUrl } from '../domain/esp-signatures';

export type SnsFetch = (url: string) => Promise<string>;

const MAX_ANSWER_BYTES = 64 * 1024;

export function snsFetcher(options: { ca?: string; connectTo?: { host: string; port: number }; timeoutMs?: number } = {}): SnsFetch {
  return (url) => new Promise((resolve, reject) => {
    if (!isSnsUrl(url, 'subscribe')) return reject(new Error(`not an SNS URL: ${url}`));
    const u = new URL(url);
    const req = https.get({
      host: options.connectTo?.host ?? u.hostname, port: options.connectTo?.port ?? 443, path: `${u.pathname}${u.search}`,
      servername: u.hostname, headers: { host: u.hostname }, ca: options.ca, timeout: options.timeoutMs ?? 10_000,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(u.hostname, cert), // the AWS name, wherever we connected
    }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${url} answered ${res.statusCode}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`${url}: answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in time`)));
    req.on('error', reject);
  });
}
