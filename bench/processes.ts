// The benchmark's other processes: the SMTP sink it sends to, and what the worker process uses (CPU, memory) read
// from /proc.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../stack/dev-server';

export const POSTFIX_SINK = '/usr/sbin/smtp-sink';

export interface Sink {
  name: string;
  port: number;
  pid: number;
  count(): Promise<number>;
  kill(): void;
}

/** Postfix's smtp-sink, or a small smtp-server process (bench/smtp-sink.ts) where Postfix is not installed. */
export async function startSink(kind: 'postfix' | 'node'): Promise<Sink> {
  if (kind === 'postfix') {
    const port = await freePort();
    // -c prints "sess=… quit=… mesg=N" at each message; -u: it refuses to keep root privileges.
    const child = spawn(POSTFIX_SINK, ['-c', '-u', 'nobody', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let last = '';
    child.stdout!.on('data', (d: Buffer) => (last = (last + d.toString()).slice(-200)));
    await new Promise((r) => setTimeout(r, 500));
    return {
      name: 'postfix smtp-sink', port, pid: child.pid!,
      count: async () => Number([...last.matchAll(/mesg=(\d+)/g)].at(-1)?.[1] ?? 0),
      kill: () => child.kill(),
    };
  }
  const child = fork(path.join(__dirname, 'smtp-sink.ts'), { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return {
    name: 'Node smtp-server', port, pid: child.pid!,
    count: () => new Promise<number>((resolve) => {
      child.once('message', (m: { count: number }) => resolve(m.count));
      child.send('count');
    }),
    kill: () => child.kill(),
  };
}

/** CPU time (user + system, every thread) the processes used so far, from /proc (ms). */
export function cpuMs(children: Array<Pick<ChildProcess, 'pid'>>): number {
  const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return children.reduce((sum, c) => {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      return sum;
    }
  }, 0);
}

export function rssSampler(child: ChildProcess) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peak = Math.max(peak, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // the worker is gone
    }
  }, 500);
  return { peakKb: () => peak, stop: () => clearInterval(timer) };
}

export const POSTFIX_SOURCE = '/usr/sbin/smtp-source';

/**
 * Postfix's C client sending n messages of `size` bytes over `sessions` connections (kept open: -d) to the sink:
 * the yardstick of what SMTP costs on this machine. Its CPU is read by the shell's `times` (children's user + system).
 * Not synchronous: the bench must keep reading the sink's output meanwhile, or the sink blocks on it.
 */
export async function smtpSource(port: number, n: number, sessions: number, size: number): Promise<{ perSecond: number; cpuMsPerMessage: number }> {
  const started = process.hrtime.bigint();
  const child = spawn('bash', ['-c', `"$0" -d -s ${sessions} -m ${n} -l ${size} -f bench@shop.example -t user@example.com -N 127.0.0.1:${port} >/dev/null; times`, POSTFIX_SOURCE], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`smtp-source ended with ${code}`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // `times`: the shell's user/system line, then its children's: "0m1.234s 0m0.567s".
  const [user, system] = [...out.trim().split('\n').at(-1)!.matchAll(/(\d+)m([\d.]+)s/g)].map(([, m, s]) => Number(m) * 60 + Number(s));
  return { perSecond: n / seconds, cpuMsPerMessage: (1000 * (user + system)) / n };
}
