import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { InferenceHost } from '../../../server/inference/index.js';
import { ClosedError } from '../../../server/shared/errors.js';
import type { RgbImage } from '../../../server/shared/image.js';

export const FIXTURE_MODELS = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/models');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** A scratch copy of the fixture models that a test may edit; removed by the returned cleanup. */
export async function scratchModels(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cyclestream-models-'));
  await cp(FIXTURE_MODELS, dir, { recursive: true });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const CPU = { modelsDir: FIXTURE_MODELS, providers: ['cpu'] as const, intraOpThreads: 1 };

/** Every byte value appears, at positions that differ per channel (and per seed). */
export function allValues(width: number, height: number, seed = 0): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i % 3) * 101 + seed) % 256;
  return { width, height, data };
}

/**
 * The lifecycle every host must honour, in-process or in workers: close is idempotent, a close
 * during a run waits for it, openSessions() counts down to 0, and a closed host refuses work.
 * The host loads from FIXTURE_MODELS.
 */
export async function assertCloseLifecycle(host: InferenceHost): Promise<void> {
  const a = await host.loadModel('invert');
  const b = await host.loadModel('swap-rb');
  const c = await host.loadModel('invert');
  assert.equal(host.openSessions(), 3);
  await Promise.all([a.close(), a.close()]);
  await a[Symbol.asyncDispose]();
  assert.equal(host.openSessions(), 2);
  await assert.rejects(a.run(allValues(8, 8)), ClosedError);

  const running = b.run(allValues(8, 8));
  const closing = b.close();
  assert.equal((await running).width, 8);
  await closing;
  assert.equal(host.openSessions(), 1);

  await host.close();
  await host.close();
  assert.equal(host.openSessions(), 0);
  await assert.rejects(c.run(allValues(8, 8)), ClosedError);
  await assert.rejects(host.loadModel('invert'), ClosedError);
}
