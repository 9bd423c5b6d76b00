/**
 * Cluster mode in Chromium: a stream published over WHIP to node A, its embed page loaded from
 * node B. B's status, events and WHEP answers are 307s to A, so the player on B's page talks
 * to A cross-origin; it must follow them and play the translated video. Real node processes,
 * real Redis, Debian's Chromium with real footage as the fake camera.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { waitFor } from '../helpers/app.js';
import { webcamClip } from '../helpers/clips.js';
import { freePort, startNode, startRedis, type TestNode, type TestRedis } from '../helpers/cluster.js';
import { hostSite } from '../helpers/host-site.js';
import { WHIP_CLIENT_SOURCE, type WhipClientWindow } from './whip-client.js';
import type { StreamSummary } from '../../server/contract/index.js';

const INGEST = 'e2e-cluster-ingest-token';
// Viewer tokens on: the token must reach A although the browser drops Authorization on a cross-origin redirect.
const VIEWER = 'e2e-cluster-viewer-token';
const asViewer = { headers: { authorization: `Bearer ${VIEWER}` } };
const skip = !chromiumAvailable() && 'no /usr/bin/chromium';

let redis: TestRedis | undefined;
let browser: Browser | undefined;
let site: Awaited<ReturnType<typeof hostSite>> | undefined;
const nodes: TestNode[] = [];

before(async () => {
  if (skip) return;
  redis = await startRedis();
});

after(async () => {
  await browser?.close();
  await site?.close();
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  await redis?.close();
});

async function node(id: string, web: boolean): Promise<TestNode> {
  const port = await freePort();
  const n = await startNode({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    REDIS_URL: redis!.url,
    NODE_ID: id,
    WEB: String(web),
    MODELS_DIR: 'test/fixtures/models',
    SHOW_HIDDEN_MODELS: 'true',
    DEFAULT_MODEL: 'invert',
    PROVIDERS: 'cpu',
    INGEST_TOKENS: INGEST,
    VIEWER_TOKENS: VIEWER,
  });
  nodes.push(n);
  return n;
}

test("the embed page on node B plays a stream node A holds, through B's 307s", { skip, timeout: 180_000 }, async (t) => {
  const [a, b] = await Promise.all([node('a', false), node('b', true)]);
  const clip = await webcamClip(320, 240);
  site = await hostSite(
    new Map([['/publisher', `<!doctype html><meta charset="utf-8"><video data-testid="input-video" muted autoplay playsinline></video><script>${WHIP_CLIENT_SOURCE}</script>`]]),
  );
  browser = await launchChromium({ fakeCameraY4m: clip });
  const pub = await browser.newPage();
  await pub.goto(`${site.origin}/publisher`);
  const streamId = await pub.evaluate(([s, tok]) => (window as unknown as WhipClientWindow).publish(s!, tok!), [a.url, INGEST]);
  assert.ok(
    await waitFor(async () => (await fetch(`${b.url}/api/streams/${streamId}`, { ...asViewer, redirect: 'manual' })).status === 307, 10_000),
    "B redirects the stream's status to A",
  );

  const page = await browser.newPage();
  const warnings: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'warning' || m.type() === 'error') warnings.push(m.text());
  });
  await page.goto(`${b.url}/embed/${streamId}?token=${VIEWER}`);
  const player = page.locator('cyclestream-player');
  try {
    await page.locator('cyclestream-player[data-state="live"]').waitFor({ timeout: 30_000 });
  } finally {
    t.diagnostic(`player state ${await player.getAttribute('data-state')}; console: ${warnings.join(' | ').slice(0, 600) || 'quiet'}`);
  }
  assert.ok(page.url().startsWith(b.url), 'the embed page itself came from B');

  // A string, not a function: tsx would wrap a named callback in a helper the page does not have.
  const played = (await page.evaluate(`new Promise((resolve) => {
    const v = document.querySelector('cyclestream-player').video;
    let frames = 0;
    const t0 = v.currentTime;
    const tick = () => { frames++; v.requestVideoFrameCallback(tick); };
    v.requestVideoFrameCallback(tick);
    setTimeout(() => resolve({ frames, advanced: v.currentTime - t0, width: v.videoWidth, height: v.videoHeight }), 2000);
  })`)) as { frames: number; advanced: number; width: number; height: number };
  t.diagnostic(`embed on B: ${played.frames} frames in 2 s, currentTime +${played.advanced.toFixed(2)} s, ${played.width}x${played.height}`);
  assert.ok(played.frames >= 10, `${played.frames} frames decoded in 2 s`);
  assert.ok(played.advanced > 1, `the video advanced ${played.advanced} s in 2 s`);
  assert.equal(played.width, 320);
  assert.equal(played.height, 240);

  // The viewer sits on A, which holds the stream; B holds none.
  const onA = (await (await fetch(`${a.url}/api/streams/${streamId}`, asViewer)).json()) as StreamSummary;
  assert.equal(onA.viewers, 1, 'one WHEP viewer on A');

  // Leaving the page ends the viewer on A: its DELETE went to the URL that answered the offer.
  await page.close({ runBeforeUnload: true });
  assert.ok(
    await waitFor(async () => ((await (await fetch(`${a.url}/api/streams/${streamId}`, asViewer)).json()) as StreamSummary).viewers === 0, 10_000),
    'the viewer left A when the page closed',
  );
  await pub.close();
});
