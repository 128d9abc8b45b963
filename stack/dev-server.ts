// The embedded Temporal server: the official CLI's dev server, persisted to a file under the data folder.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/messages';

export interface DevServer {
  address: string;
  uiUrl: string;
  stop(): Promise<void>;
  /** SIGKILL, as a crash would (fault tests). */
  kill(): Promise<void>;
}

export async function startDevServer(cli: string, dataDir: string, port = 7233, uiPort = 8233, options: { headless?: boolean } = {}): Promise<DevServer> {
  fs.mkdirSync(dataDir, { recursive: true });
  const child: ChildProcess = spawn(cli, [
    'server', 'start-dev', '--db-filename', path.join(dataDir, 'temporal.db'), '--port', String(port),
    ...(options.headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']),
    '--ip', '127.0.0.1', '--log-level', 'error',
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${k.type[0]}${k.type.slice(1).toLowerCase()}`]),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 500)).then(() => 'running' as const)]);
    if (code !== 'running') throw new Error(`the Temporal dev server exited (code ${code}); is port ${port} or ${uiPort} already in use?`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1 second' });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the Temporal dev server did not answer on ${address} within 60 s`);
    }
  }
  return {
    address,
    uiUrl: `http://localhost:${uiPort}`,
    async stop() {
      child.kill('SIGTERM');
      // Seen in CI: a dev server restarted on its database file sometimes never finishes its graceful shutdown.
      const hung = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(hung);
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    }).on('error', reject);
  });
}
