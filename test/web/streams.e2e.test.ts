/**
 * Streams end to end in headless Chromium with real footage as the fake camera: a page on
 * another origin publishes over WHIP and watches over WHEP twice; a host page embeds the stream
 * in an iframe and with <cyclestream-player>; a host on an origin that is not allowed is refused
 * by the browser; the publisher vanishing turns the players "offline".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { startTestApp, waitFor } from '../helpers/app.js';
import { hostSite } from '../helpers/host-site.js';
import { webcamClip } from '../helpers/clips.js';
import { PROBE_SOURCE, median, type ProbeHandle } from './frame-probe.js';
import { WHIP_CLIENT_SOURCE, type WhipClientWindow } from './whip-client.js';
import type { StreamSummary } from '../../server/contract/index.js';

const TOKEN = 'e2e-ingest-token';
const MAX_MEAN_ABS_ERROR = 10;

function publisherPage(): string {
  return `<!doctype html><meta charset="utf-8"><title>publisher</title>
<video data-testid="input-video" muted autoplay playsinline></video>
<video id="viewer-a" muted autoplay playsinline></video>
<video id="viewer-b" muted autoplay playsinline></video>
<script>${WHIP_CLIENT_SOURCE}</script>`;
}

function hostPage(server: string, streamId: string, withComponent: boolean): string {
  return `<!doctype html><meta charset="utf-8"><title>someone's page</title>
<iframe id="embed" src="${server}/embed/${streamId}" width="320" height="240" allow="autoplay" style="border:0"></iframe>
${withComponent ? `<script src="${server}/cyclestream-player.js"></script><cyclestream-player id="tag" stream="${streamId}" server="${server}" style="width:320px"></cyclestream-player>` : ''}`;
}

async function probeViewer(page: Page, videoId: string, ms: number) {
  await page.evaluate((id) => {
    const w = window as unknown as { __makeProbe(a: Element, b: Element): ProbeHandle; probes: Record<string, ProbeHandle> };
    w.probes ??= {};
    w.probes[id] = w.__makeProbe(document.querySelector('[data-testid="input-video"]')!, document.getElementById(id)!);
    w.probes[id].start('invert');
  }, videoId);
  await page.waitForTimeout(ms);
  return page.evaluate((id) => (window as unknown as { probes: Record<string, ProbeHandle> }).probes[id]!.read(), videoId);
}

async function stream(url: string, id: string): Promise<StreamSummary> {
  return (await (await fetch(`${url}/api/streams/${id}`)).json()) as StreamSummary;
}

test('WHIP publisher and WHEP viewers in Chromium; iframe and <cyclestream-player> embeds; offline when the publisher vanishes', { skip: !chromiumAvailable() && 'no /usr/bin/chromium', timeout: 180_000 }, async (t) => {
  const clip = await webcamClip(320, 240);
  const pages = new Map<string, string>();
  const allowed = await hostSite(pages);
  const denied = await hostSite(pages);
  const srv = await startTestApp({ web: true, ingestTokens: [TOKEN], embedOrigins: [allowed.origin] });
  const browser = await launchChromium({ fakeCameraY4m: clip });
  try {
    pages.set('/publisher', publisherPage());
    const pub = await browser.newPage();
    await pub.goto(`${allowed.origin}/publisher`);
    const streamId = await pub.evaluate(([s, tok]) => (window as unknown as WhipClientWindow).publish(s!, tok!), [srv.url, TOKEN]);
    assert.match(streamId, /^[0-9a-f-]{36}$/);

    // Two WHEP viewers; both must show the fixture model's transform of the camera picture.
    for (const id of ['viewer-a', 'viewer-b']) {
      await pub.evaluate(([s, sid, v]) => (window as unknown as WhipClientWindow).watch(s!, sid!, v!), [srv.url, streamId, id]);
    }
    await pub.waitForFunction(() => ['viewer-a', 'viewer-b'].every((id) => (document.getElementById(id) as HTMLVideoElement).currentTime > 0.3), undefined, { timeout: 20_000 });
    await pub.evaluate(PROBE_SOURCE);
    const [pa, pb] = await Promise.all([probeViewer(pub, 'viewer-a', 2500), probeViewer(pub, 'viewer-b', 2500)]);
    for (const [name, p] of [['A', pa], ['B', pb]] as const) {
      t.diagnostic(`viewer ${name}: ${p.frames} frames, median error ${median(p.errors).toFixed(1)}, control ${median(p.controlErrors).toFixed(1)}`);
      assert.ok(p.frames >= 10, `viewer ${name} played ${p.frames} frames in 2.5 s`);
      assert.ok(median(p.errors) < MAX_MEAN_ABS_ERROR, `viewer ${name} vs inverted camera: ${median(p.errors).toFixed(1)}`);
      assert.ok(median(p.controlErrors) > 2 * MAX_MEAN_ABS_ERROR, `viewer ${name} vs raw camera: ${median(p.controlErrors).toFixed(1)}`);
    }

    // One model run per frame, whatever the number of viewers (the server's own counters).
    const session = srv.app.sessions.get(streamId)!;
    const before = { s: await stream(srv.url, streamId), host: srv.app.health().modelRuns, viewers: session.viewerStats() };
    await pub.waitForTimeout(2000);
    const after = { s: await stream(srv.url, streamId), host: srv.app.health().modelRuns, viewers: session.viewerStats() };
    const runs = after.s.modelRuns - before.s.modelRuns;
    const encoded = after.s.framesEncoded - before.s.framesEncoded;
    const sent = after.viewers.map((v) => v.framesOut - before.viewers.find((b) => b.id === v.id)!.framesOut);
    t.diagnostic(`2 s with 2 viewers: ${runs} model runs (host ${after.host - before.host}), ${encoded} encoded, sent per viewer ${sent.join(', ')}`);
    assert.equal(after.s.viewers, 2);
    assert.ok(runs >= 10, `${runs} model runs in 2 s`);
    assert.ok(Math.abs(encoded - runs) <= 2, `runs ${runs} vs encoded ${encoded}`);
    assert.ok(Math.abs(after.host - before.host - runs) <= 2, 'the host ran the model for nothing else');
    for (const n of sent) assert.ok(Math.abs(n - encoded) <= 3, `a viewer got ${n} of ${encoded} encoded frames`);

    // Viewer A leaves; B plays on.
    assert.equal(await pub.evaluate(() => (window as unknown as WhipClientWindow).leave('viewer-a')), 200);
    const bFrames = await pub.evaluate(() => (window as unknown as WhipClientWindow).framesOf('viewer-b'));
    t.diagnostic(`viewer B after A left: ${bFrames} frames in 2 s`);
    assert.ok(bFrames >= 15, `viewer B showed ${bFrames} frames in 2 s after A left`);
    assert.equal((await stream(srv.url, streamId)).viewers, 1);

    // Embeds on an allowed origin: the iframe player and the web component both play.
    pages.set('/host', hostPage(srv.url, streamId, true));
    const host = await browser.newPage();
    await host.goto(`${allowed.origin}/host`);
    const framed = host.frameLocator('#embed').locator('[data-testid="embed-player"]');
    await framed.and(host.frameLocator('#embed').locator('[data-state="live"]')).waitFor({ timeout: 20_000 });
    await host.locator('#tag[data-state="live"]').waitFor({ timeout: 20_000 });
    const playing = async (frame: 'iframe' | 'tag') => {
      const video = frame === 'iframe' ? host.frameLocator('#embed').locator('cyclestream-player video') : host.locator('#tag video');
      const t0 = await video.evaluate((v: HTMLVideoElement) => v.currentTime);
      await host.waitForTimeout(1000);
      return (await video.evaluate((v: HTMLVideoElement) => [v.currentTime, v.videoWidth, v.muted] as const)).concat(t0);
    };
    for (const kind of ['iframe', 'tag'] as const) {
      const [t1, width, muted, t0] = await playing(kind);
      t.diagnostic(`${kind}: ${width} px wide, played ${(Number(t1) - Number(t0)).toFixed(2)} s of 1 s, muted ${muted}`);
      assert.ok(Number(t1) - Number(t0) > 0.5, `${kind} video advanced ${Number(t1) - Number(t0)} s in 1 s`);
      assert.equal(width, 320);
      assert.equal(muted, true);
    }
    assert.equal((await stream(srv.url, streamId)).viewers, 3);

    // An origin that is not in EMBED_ORIGINS: the browser refuses to frame the page.
    pages.set('/denied', hostPage(srv.url, streamId, false));
    const other = await browser.newPage();
    const refusals: string[] = [];
    other.on('console', (m) => {
      if (/frame-ancestors/.test(m.text())) refusals.push(m.text());
    });
    await other.goto(`${denied.origin}/denied`);
    await waitFor(() => refusals.length > 0, 5000);
    const embedFrame = other.frames().find((f) => f.url().startsWith(`${srv.url}/embed/`));
    const players = embedFrame ? await embedFrame.locator('cyclestream-player').count() : 0;
    t.diagnostic(`denied origin: ${refusals[0]?.slice(0, 120) ?? 'no console message'}`);
    assert.ok(refusals.length > 0, 'Chromium reported no frame-ancestors refusal');
    assert.equal(players, 0, 'the embed page rendered inside a host that is not allowed');
    await other.close();

    // The publisher vanishes (its tab is gone): both players say offline within 10 s.
    const goneAt = Date.now();
    await pub.close();
    await framed.and(host.frameLocator('#embed').locator('[data-state="offline"]')).waitFor({ timeout: 12_000 });
    await host.locator('#tag[data-state="offline"]').waitFor({ timeout: 12_000 });
    const offlineMs = Date.now() - goneAt;
    t.diagnostic(`players offline ${offlineMs} ms after the publisher's tab closed`);
    assert.ok(offlineMs <= 10_000, `offline after ${offlineMs} ms`);
    assert.match((await host.frameLocator('#embed').locator('cyclestream-player').evaluate((el) => el.shadowRoot!.textContent ?? '')) ?? '', /offline/i);
    const freed = await waitFor(() => {
      const h = srv.app.health();
      return h.sessions === 0 && h.openCodecs === 0 && h.openModelSessions === 0 && h.openPeers === 0;
    }, 5000);
    assert.ok(freed, `after the publisher left: ${JSON.stringify(srv.app.health())}`);
  } finally {
    await browser.close();
    await srv.close();
    await allowed.close();
    await denied.close();
  }
});
