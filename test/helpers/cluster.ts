/**
 * Cluster tests' pieces: a real redis-server on a free loopback port (its own temporary
 * folder; no persistence unless asked for), and real cyclestream nodes, each its own process (server/main.ts), so a
 * test can kill one with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { REPO_ROOT } from './paths.js';
import { waitFor } from './app.js';

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect(port, '127.0.0.1');
    let data = '';
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        sock.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
  });
}

export interface TestRedis {
  readonly url: string;
  /** SIGTERM; with no persistence, everything Redis held is gone. */
  stop(): Promise<void>;
  /** Again on the same port: empty, or with `appendOnly` what it held when stopped. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** `appendOnly`: every write goes to the append-only file before it is acknowledged, as a cluster's Redis should run. */
export async function startRedis(opts: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cyclestream-redis-'));
  let proc: ChildProcess | null = null;
  const start = async () => {
    const persistence = opts.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], { stdio: 'ignore' });
    if (!(await waitFor(() => answersPing(port), 10_000, 50))) throw new Error('redis-server did not start');
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    p.kill('SIGTERM');
    await once(p, 'exit');
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestNode {
  readonly url: string;
  readonly proc: ChildProcess;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** A node: server/main.ts in its own process, its settings from `env`, on a free loopback port. */
export async function startNode(env: Record<string, string>): Promise<TestNode> {
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'server', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', WEB: 'false', LOG_LEVEL: 'info', INTRA_OP_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /cyclestream ready on (http:\/\/[^"\s]+)/.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        // Keep draining, or the node blocks on a full pipe.
        proc.stdout!.resume();
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`node exited (${code}) before it was ready:\n${out.slice(-2000)}`)));
    // It logs its URL at LOG_LEVEL info; a node that never says so is stopped, not waited on forever.
    setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`node not ready after 60 s:\n${out.slice(-2000)}`));
    }, 60_000).unref();
  });
  return {
    url,
    proc,
    kill: async (signal) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await once(proc, 'exit');
    },
  };
}
