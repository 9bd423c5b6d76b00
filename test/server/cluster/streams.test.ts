/**
 * Cluster mode, streams: a WHIP stream published to node A is listed by node B, a WHEP viewer
 * that asks B is redirected (307) to A and plays, A allows B's pages (CORS) but no other
 * origin, and when A is killed with SIGKILL its stream leaves B's list within the registry's
 * TTL. Real node processes, real Redis, werift peers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamSummary } from '../../../server/contract/index.js';
import { waitFor } from '../../helpers/app.js';
import { freePort, startNode, startRedis, type TestNode, type TestRedis } from '../../helpers/cluster.js';
import { BrowserPeer } from '../webrtc/browser-peer.js';
import { encodeFrames } from '../webrtc/encode.js';

const INGEST = 'ingest-token-for-tests';
const OPERATOR = 'operator-token-for-tests';
const TTL_MS = 1500;

let redis: TestRedis;
const nodes: TestNode[] = [];
const peers: BrowserPeer[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await Promise.all(peers.map((p) => p.close()));
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  await redis?.close();
});

async function node(id: string): Promise<TestNode> {
  const port = await freePort();
  const n = await startNode({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: redis.url,
    NODE_ID: id,
    MODELS_DIR: 'test/fixtures/models',
    SHOW_HIDDEN_MODELS: 'true',
    DEFAULT_MODEL: 'invert',
    PROVIDERS: 'cpu',
    INGEST_TOKENS: INGEST,
    OPERATOR_TOKENS: OPERATOR,
    STREAM_TTL_MS: String(TTL_MS),
  });
  nodes.push(n);
  return n;
}

async function listed(base: string): Promise<StreamSummary[]> {
  const res = await fetch(`${base}/api/streams`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  return ((await res.json()) as { streams: StreamSummary[] }).streams;
}

test('WHIP to A, WHEP asked of B: 307 to A, and it plays; B lists the stream until A dies', { timeout: 120_000 }, async (t) => {
  const [a, b] = [await node('a'), await node('b')];
  const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
  peers.push(publisher);
  const pub = await fetch(`${a.url}/whip/invert`, {
    method: 'POST',
    body: await publisher.createOffer(),
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${INGEST}` },
  });
  assert.equal(pub.status, 201);
  const streamId = pub.headers.get('x-stream-id')!;
  await publisher.acceptAnswer(await pub.text());
  await publisher.connected();
  let sending = true;
  const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 30, forceKeyframes: [15] });
  const sender = (async () => {
    for (let i = 0, pts = 0; sending; i++, pts += 33) {
      await publisher.sendFrame('h264', { data: frames[i % frames.length]!.data, ptsMs: pts });
      await new Promise((r) => setTimeout(r, 33));
    }
  })();

  assert.ok(await waitFor(async () => (await listed(b.url)).some((s) => s.id === streamId), 5000), "B lists A's stream");

  const viewer = new BrowserPeer({ codecs: ['h264', 'vp8'], direction: 'recvonly' });
  peers.push(viewer);
  const offer = await viewer.createOffer();
  const init = { method: 'POST', body: offer, headers: { 'content-type': 'application/sdp' } };
  const redirect = await fetch(`${b.url}/whep/${streamId}`, { ...init, redirect: 'manual' });
  assert.equal(redirect.status, 307);
  assert.equal(redirect.headers.get('location'), `${a.url}/whep/${streamId}`);
  const followed = await fetch(`${b.url}/whep/${streamId}`, init);
  assert.equal(followed.status, 201);
  assert.ok(followed.url.startsWith(a.url), 'answered by A');
  await viewer.acceptAnswer(await followed.text());
  assert.ok(await waitFor(() => viewer.received.length >= 5, 20_000), `viewer got ${viewer.received.length} frames`);
  const status = await fetch(`${b.url}/api/streams/${streamId}`, { redirect: 'manual' });
  assert.equal(status.status, 307, 'stream status redirects to the owner too');
  // A page on B, redirected to A, calls A cross-origin: A allows the origins of live nodes, and only those.
  const fromB = await fetch(`${a.url}/api/streams/${streamId}`, { headers: { origin: b.url } });
  assert.equal(fromB.status, 200);
  assert.equal(fromB.headers.get('access-control-allow-origin'), b.url);
  const fromElsewhere = await fetch(`${a.url}/api/streams/${streamId}`, { headers: { origin: 'http://elsewhere.example' } });
  assert.equal(fromElsewhere.status, 403);
  assert.equal(fromElsewhere.headers.get('access-control-allow-origin'), null);

  sending = false;
  await sender;
  await a.kill('SIGKILL');
  const t0 = Date.now();
  assert.ok(await waitFor(async () => !(await listed(b.url)).some((s) => s.id === streamId), TTL_MS + 3000), 'gone from B within the TTL');
  t.diagnostic(`left B's list ${Date.now() - t0} ms after SIGKILL (TTL ${TTL_MS} ms)`);
  assert.equal((await fetch(`${b.url}/whep/${streamId}`, { ...init, redirect: 'manual' })).status, 404);
  await b.kill('SIGTERM');
});
