/**
 * Shared by the job API tests (api-*.test.ts): two servers on scratch models, one with the
 * default limits and one strict, a socket.io client on the first that collects every job event,
 * and a look at what a data folder still holds.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { setFfmpegLogLevel } from '../../../server/codec/index.js';
import type { JobInfo, JobProgress } from '../../../server/contract/index.js';
import { connect, startTestApp, type TestSocket } from '../../helpers/app.js';
import { scratchModels } from '../inference/helpers.js';
import { writeConvStackModel } from '../inference/conv-stack-model.js';
import { tempDir } from './helpers.js';

export type Srv = Awaited<ReturnType<typeof startTestApp>>;
type TempDir = Awaited<ReturnType<typeof tempDir>>;

export interface ApiServers {
  srv: Srv;
  /** 256x256 frames at most, 0.5 MB uploads at most. */
  strict: Srv;
  data: TempDir;
  strictData: TempDir;
  /** Connected to srv; it sees the events of the jobs it watches. */
  socket: TestSocket;
  updates: JobInfo[];
  progress: JobProgress[];
  /** Closes and removes everything; for after(). */
  close(): Promise<void>;
}

/** Models: `invert` and `slow`; srv processes at a 128 px short side. */
export async function startApiServers(): Promise<ApiServers> {
  const open: { srv?: Srv; strict?: Srv; models?: Awaited<ReturnType<typeof scratchModels>>; data?: TempDir; strictData?: TempDir; socket?: TestSocket } = {};
  // Whatever did start is closed, in this order, also when a later start fails.
  const close = async () => {
    open.socket?.disconnect();
    await open.srv?.close();
    await open.strict?.close();
    await open.models?.cleanup();
    await open.data?.cleanup();
    await open.strictData?.cleanup();
  };
  try {
    setFfmpegLogLevel('error');
    const models = (open.models = await scratchModels());
    // Slow on purpose (a 6-layer, 32-channel conv stack), so a run lasts long enough to cancel.
    await writeConvStackModel(models.dir, 'slow', 32, 6);
    const data = (open.data = await tempDir('cyclestream-api-'));
    const strictData = (open.strictData = await tempDir('cyclestream-api-strict-'));
    const srv = (open.srv = await startTestApp({ modelsDir: models.dir, dataDir: data.dir, providers: ['cpu'], processingShortSidePx: 128 }));
    const strict = (open.strict = await startTestApp({
      modelsDir: models.dir,
      dataDir: strictData.dir,
      providers: ['cpu'],
      maxVideoWidthPx: 256,
      maxVideoHeightPx: 256,
      maxUploadMb: 0.5,
    }));
    const socket = (open.socket = await connect(srv.url));
    const updates: JobInfo[] = [];
    const progress: JobProgress[] = [];
    socket.on('job:update', (j) => void updates.push(j));
    socket.on('job:progress', (p) => void progress.push(p));
    return { srv, strict, data, strictData, socket, updates, progress, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Uploads in flight and job folders left in a data folder. */
export function leftovers(dir: string): string[] {
  return [...readdirSync(path.join(dir, 'uploads')).map((f) => `uploads/${f}`), ...readdirSync(path.join(dir, 'jobs')).map((f) => `jobs/${f}`)];
}
