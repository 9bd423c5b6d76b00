/**
 * Bench section `cluster`: what cluster mode costs on this machine. Real node processes and a
 * private redis-server (the test helpers), the invert fixture model so that the queue, not the
 * model, is measured.
 * - jobs: time for a batch of video jobs, one node without Redis (embedded SQLite queue), one
 *   node on BullMQ, two nodes on BullMQ (all sharing these cores: a ratio of overhead, not a
 *   speed-up); Redis overhead per job = (one node on BullMQ - embedded) / jobs;
 * - registry: one stream registration (StreamRegistry.refresh, one stream) against Redis;
 * - whep: time to the first frame for a werift viewer asking the stream's node directly, and
 *   asking the other node (307, then the owner).
 */
import { openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { StreamRegistry } from '../../server/cluster/index.js';
import type { StreamSummary } from '../../server/contract/index.js';
import { waitFor } from '../../test/helpers/app.js';
import { freePort, startNode, startRedis, type TestNode, type TestRedis } from '../../test/helpers/cluster.js';
import { createJob, waitEnded } from '../../test/helpers/jobs-http.js';
import { CLIPS } from '../../test/server/jobs/helpers.js';
import { BrowserPeer } from '../../test/server/webrtc/browser-peer.js';
import { encodeFrames } from '../../test/server/webrtc/encode.js';
import { REPO_ROOT, median, round, type BenchOptions } from './common.js';

const INGEST = 'bench-ingest-token';

async function nodeEnv(redis: TestRedis | null, dataDir: string, id: string): Promise<Record<string, string>> {
  const port = await freePort();
  return {
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    NODE_ID: id,
    DATA_DIR: dataDir,
    MODELS_DIR: path.join(REPO_ROOT, 'test', 'fixtures', 'models'),
    SHOW_HIDDEN_MODELS: 'true',
    DEFAULT_MODEL: 'invert',
    PROVIDERS: 'cpu',
    PROCESSING_SHORT_SIDE_PX: '128',
    JOB_CONCURRENCY: '1',
    MAX_QUEUED_JOBS_PER_CLIENT: '100',
    INGEST_TOKENS: INGEST,
    ...(redis ? { REDIS_URL: redis.url } : {}),
  };
}

/** Seconds from the first upload to the last job done, `jobs` jobs submitted round-robin to the nodes. */
async function jobBatch(nodes: TestNode[], jobs: number): Promise<number> {
  const clip = await openAsBlob(CLIPS.mpeg4);
  // Untimed, one per node: model sessions and caches warm before the clock starts.
  for (const n of nodes) {
    const warm = await createJob(n.url, clip, 'warm-up.mp4', { modelId: 'invert' });
    await waitEnded(n.url, warm.id, warm.token, 600_000);
  }
  const t0 = performance.now();
  const made = [];
  for (let i = 0; i < jobs; i++) made.push(await createJob(nodes[i % nodes.length]!.url, clip, `bench-${i}.mp4`, { modelId: 'invert' }));
  for (const j of made) await waitEnded(nodes[0]!.url, j.id, j.token, 600_000);
  return (performance.now() - t0) / 1000;
}

async function withNodes<T>(redis: TestRedis | null, count: number, fn: (nodes: TestNode[]) => Promise<T>): Promise<T> {
  const data = await mkdtemp(path.join(os.tmpdir(), 'cyclestream-bench-cluster-'));
  const nodes: TestNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(await nodeEnv(redis, data, `n${i}`)));
    return await fn(nodes);
  } finally {
    await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
    await rm(data, { recursive: true, force: true });
  }
}

async function firstFrameMs(whepUrl: string): Promise<number> {
  const viewer = new BrowserPeer({ codecs: ['h264', 'vp8'], direction: 'recvonly' });
  try {
    const t0 = performance.now();
    const res = await fetch(whepUrl, { method: 'POST', body: await viewer.createOffer(), headers: { 'content-type': 'application/sdp' } });
    if (res.status !== 201) throw new Error(`WHEP answered ${res.status}`);
    await viewer.acceptAnswer(await res.text());
    if (!(await waitFor(() => viewer.received.length > 0, 20_000, 5))) throw new Error('no frame within 20 s');
    return performance.now() - t0;
  } finally {
    await viewer.close();
  }
}

async function whepFirstFrame(nodes: TestNode[], rounds: number): Promise<{ direct_ms: number; redirected_ms: number }> {
  const [a, b] = nodes as [TestNode, TestNode];
  const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
  let sending = true;
  try {
    const pub = await fetch(`${a.url}/whip/invert`, { method: 'POST', body: await publisher.createOffer(), headers: { 'content-type': 'application/sdp', authorization: `Bearer ${INGEST}` } });
    if (pub.status !== 201) throw new Error(`WHIP answered ${pub.status}`);
    const id = pub.headers.get('x-stream-id')!;
    await publisher.acceptAnswer(await pub.text());
    await publisher.connected();
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 30, forceKeyframes: [10, 20] });
    void (async () => {
      for (let i = 0, pts = 0; sending; i++, pts += 33) {
        await publisher.sendFrame('h264', { data: frames[i % frames.length]!.data, ptsMs: pts });
        await new Promise((r) => setTimeout(r, 33));
      }
    })();
    await waitFor(async () => (await fetch(`${b.url}/api/streams/${id}`, { redirect: 'manual' })).status === 307, 10_000);
    const direct: number[] = [];
    const redirected: number[] = [];
    for (let i = 0; i < rounds; i++) {
      direct.push(await firstFrameMs(`${a.url}/whep/${id}`));
      redirected.push(await firstFrameMs(`${b.url}/whep/${id}`));
    }
    return { direct_ms: round(median(direct), 0), redirected_ms: round(median(redirected), 0) };
  } finally {
    sending = false;
    await publisher.close();
  }
}

async function registrationMs(redis: TestRedis, rounds: number): Promise<number> {
  const summary = { id: 'bench-stream' } as StreamSummary;
  const make = (nodeId: string, local: StreamSummary[]) =>
    new StreamRegistry({ redisUrl: redis.url, nodeId, publicUrl: 'http://127.0.0.1:1', streamTtlMs: 60_000, local: () => local, log: pino({ level: 'silent' }) });
  const registry = make('bench', [summary]);
  // Another node's view: the entry is there once the first refresh reached Redis.
  await using probe = make('probe', []);
  try {
    const ok = await waitFor(async () => {
      await registry.refresh();
      return (await probe.remote(summary.id)) !== null;
    }, 5000);
    if (!ok) throw new Error('the registry never reached Redis');
    const times: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await registry.refresh();
      times.push(performance.now() - t0);
    }
    return round(median(times), 3);
  } finally {
    await registry.close();
  }
}

export async function benchCluster(opts: BenchOptions): Promise<Record<string, unknown>> {
  const jobs = opts.quick ? 4 : 8;
  const redis = await startRedis();
  try {
    const embedded = await withNodes(null, 1, (n) => jobBatch(n, jobs));
    const oneNode = await withNodes(redis, 1, (n) => jobBatch(n, jobs));
    const { twoNodes, whep } = await withNodes(redis, 2, async (n) => ({ twoNodes: await jobBatch(n, jobs), whep: await whepFirstFrame(n, opts.quick ? 3 : 5) }));
    return {
      jobs,
      clip: 'horse-gallop-beach.mp4 (288x216, 133 frames), invert fixture, 128 px',
      embedded_s: round(embedded, 2),
      bullmq_one_node_s: round(oneNode, 2),
      bullmq_two_nodes_s: round(twoNodes, 2),
      two_over_one_node: round(oneNode / twoNodes, 2),
      redis_overhead_per_job_ms: round(((oneNode - embedded) * 1000) / jobs, 0),
      stream_registration_ms: await registrationMs(redis, 50),
      whep_first_frame: whep,
    };
  } finally {
    await redis.close();
  }
}

export function clusterText(r: Record<string, unknown>): string {
  const w = r.whep_first_frame as { direct_ms: number; redirected_ms: number } | undefined;
  return [
    `== cluster: ${String(r.jobs)} video jobs (${String(r.clip)}), nodes sharing this machine's cores`,
    `  embedded queue, 1 node   ${String(r.embedded_s)} s`,
    `  BullMQ, 1 node           ${String(r.bullmq_one_node_s)} s   (Redis overhead ${String(r.redis_overhead_per_job_ms)} ms per job)`,
    `  BullMQ, 2 nodes          ${String(r.bullmq_two_nodes_s)} s   (1 node / 2 nodes = ${String(r.two_over_one_node)})`,
    `  stream registration      ${String(r.stream_registration_ms)} ms (one refresh, median of 50)`,
    `  WHEP first frame         direct ${String(w?.direct_ms)} ms, through a 307 ${String(w?.redirected_ms)} ms (median)`,
  ].join('\n');
}
