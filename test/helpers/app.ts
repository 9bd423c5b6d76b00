import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { io as ioClient, type Socket } from 'socket.io-client';
import { createApp, type App, type AppHooks } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../server/contract/index.js';
import { installPolyfills } from '../../server/shared/index.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from './paths.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * A real server on an ephemeral loopback port, serving the fixture models, API only unless `web`.
 * Its job data folder is a fresh temporary one (removed on close) unless `dataDir` is given.
 */
export async function startTestApp(
  overrides: Partial<Config> = {},
  hooks: AppHooks = {},
  logger: Logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
): Promise<{ app: App; url: string; close(): Promise<void> }> {
  installPolyfills();
  const ownDataDir = overrides.dataDir ? null : mkdtempSync(path.join(tmpdir(), 'cyclestream-data-'));
  const config = loadConfig({
    root: REPO_ROOT,
    overrides: {
      port: 0,
      host: '127.0.0.1',
      modelsDir: FIXTURE_MODELS_DIR,
      defaultModel: 'invert',
      showHiddenModels: true,
      web: false,
      logLevel: 'silent',
      intraOpThreads: 1,
      ...(ownDataDir ? { dataDir: ownDataDir } : {}),
      ...overrides,
    },
  });
  const app = await createApp(config, logger, hooks);
  const { url } = await app.listen();
  const close = async () => {
    await app.close();
    if (ownDataDir) rmSync(ownDataDir, { recursive: true, force: true });
  };
  return { app, url, close };
}

export function connect(url: string): Promise<TestSocket> {
  const socket: TestSocket = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes; resolves to whether it did. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

