/**
 * Issue 12 §4, nothing may kill the process. Class: an error at any stage of a live session
 * (decode, toRgb, model, encode, send) or one that escapes every chain (uncaught exception,
 * unhandled rejection). Each must close that one session with a reason, tell its client, and
 * leave the server and the other sessions serving.
 *
 * The failures are injected into the real stages (test/security/helpers.ts): session A speaks VP8
 * and gets the fault, session B speaks H.264 and must keep receiving translated frames.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { startTestApp, waitFor } from '../helpers/app.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { faults, keepsReceiving, liveSession } from './helpers.js';
import type { LiveStage } from '../../server/session/index.js';
import { OwnerScope, installCrashGuard } from '../../server/shared/index.js';

const STAGES: LiveStage[] = ['decode', 'toRgb', 'model', 'encode', 'send'];

for (const stage of STAGES) {
  test(`a failure at the ${stage} stage closes that session with reason 'error'; the other session and the server go on`, { timeout: 90_000 }, async () => {
    const hooks = faults(stage);
    const srv = await startTestApp({}, hooks);
    const sessions = [];
    try {
      const a = await liveSession(srv.url, { codec: 'vp8' });
      sessions.push(a);
      const b = await liveSession(srv.url, { codec: 'h264' });
      sessions.push(b);

      assert.equal(await Promise.race([a.closed, new Promise((r) => setTimeout(() => r('still open'), 30_000))]), 'error');
      assert.ok(hooks.fired(), 'the fault was injected');
      const err = a.errors.find((e) => e.message.startsWith(`${stage}:`));
      assert.ok(err, `session:error for the ${stage} stage; got ${JSON.stringify(a.errors)}`);
      assert.doesNotMatch(err.message, /\/srv\/cyclestream/, 'no server path reaches the client');

      assert.ok(await keepsReceiving(b, 10), 'the healthy session keeps receiving translated frames');
      assert.ok(await waitFor(() => srv.app.health().sessions === 1, 10_000), 'only the failed session is gone');
      assert.equal((await fetch(`${srv.url}/api/health`)).status, 200);
    } finally {
      for (const s of sessions) await s.close();
      await srv.close();
    }
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openCodecs, h.openPeers, h.openModelSessions], [0, 0, 0, 0], 'the failed session freed everything');
  });
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');

/** The crash guard as main.ts installs it, in a child process: errors no chain caught. */
for (const mode of ['uncaught-exception', 'unhandled-rejection'] as const) {
  test(`an ${mode} traced to a session closes that session; the process keeps serving and exits cleanly on SIGTERM`, { timeout: 120_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: { msg?: string; kind?: string; owner?: { kind: string } }[] = [];
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        let i;
        while ((i = stdout.indexOf('\n')) >= 0) {
          const line = stdout.slice(0, i);
          stdout = stdout.slice(i + 1);
          if (line.startsWith('URL ')) resolve(line.slice(4));
          else if (line.startsWith('{')) logs.push(JSON.parse(line) as (typeof logs)[number]);
        }
      });
      child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const sessions = [];
    try {
      const a = await liveSession(url, { codec: 'vp8' });
      sessions.push(a);
      const b = await liveSession(url, { codec: 'h264' });
      sessions.push(b);
      assert.equal(await Promise.race([a.closed, new Promise((r) => setTimeout(() => r('still open'), 30_000))]), 'error');
      assert.ok(await keepsReceiving(b, 10), 'the other session keeps receiving');
      assert.equal((await fetch(`${url}/api/health`)).status, 200, 'the process still serves');
      const kind = mode === 'uncaught-exception' ? 'uncaughtException' : 'unhandledRejection';
      assert.ok(logs.some((l) => l.kind === kind && l.owner?.kind === 'session'), `the guard logged the ${kind} with its session`);
    } finally {
      for (const s of sessions) await s.close();
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'a clean shutdown');
  });
}

test('the crash guard: traced errors close their owner; untraced rejections are logged; only a burst of untraced exceptions is fatal', () => {
  const proc = new EventEmitter();
  const owners = new OwnerScope();
  const fatal: string[] = [];
  let t = 0;
  const uninstall = installCrashGuard(proc, { logger: pino({ level: 'silent' }), owners, onFatal: (r) => fatal.push(r), maxUntracedPerMinute: 3, now: () => t });
  try {
    const failed: unknown[] = [];
    const err = new Error('traced');
    owners.run({ kind: 'session', id: 's1', fail: (e) => failed.push(e) }, () => proc.emit('uncaughtException', err));
    assert.deepEqual(failed, [err]);
    // An owner whose close throws does not take the guard down.
    owners.run({ kind: 'session', id: 's2', fail: () => { throw new Error('close failed'); } }, () => proc.emit('unhandledRejection', err));
    for (let i = 0; i < 10; i++) proc.emit('unhandledRejection', new Error('untraced rejection'));
    assert.deepEqual(fatal, []);
    // Untraced exceptions: three a minute are tolerated; spread out, any number are.
    for (let i = 0; i < 6; i++) {
      proc.emit('uncaughtException', new Error('spread out'));
      t += 30_000;
    }
    assert.deepEqual(fatal, []);
    for (let i = 0; i < 4; i++) proc.emit('uncaughtException', new Error('burst'));
    assert.equal(fatal.length, 1);
    proc.emit('uncaughtException', new Error('after'));
    assert.equal(fatal.length, 1, 'onFatal is called once');
  } finally {
    uninstall();
  }
  assert.equal(proc.listenerCount('uncaughtException') + proc.listenerCount('unhandledRejection'), 0);
});
