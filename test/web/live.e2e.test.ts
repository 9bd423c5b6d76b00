/**
 * The live loop end to end, as a person uses it: headless Debian Chromium with a fake camera
 * playing real footage opens the page, starts a session with the `invert` fixture model, and the
 * translated <video> must show the exact colour transform of the camera picture. Then a model
 * switch, and stop, after which the server must hold no session, codec or ORT session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { startTestApp, waitFor } from '../helpers/app.js';
import { webcamClip } from '../helpers/clips.js';
import { PROBE_SOURCE, median, type ProbeHandle, type ProbeResult } from './frame-probe.js';

/**
 * Two lossy VP8 passes, two rescales and a 64x48 read-back: a correct transform lands well
 * under this mean error, the untransformed picture well over it.
 */
const MAX_MEAN_ABS_ERROR = 10;

async function probe(page: Page, transform: 'invert' | 'swap-rb', ms: number): Promise<ProbeResult> {
  await page.evaluate((t) => (window as unknown as { __probe: ProbeHandle }).__probe.start(t), transform);
  await page.waitForTimeout(ms);
  return page.evaluate(() => (window as unknown as { __probe: ProbeHandle }).__probe.read());
}

test('webcam page: translated video matches the fixture transform, switches models, frees everything on stop', { skip: !chromiumAvailable() && 'no /usr/bin/chromium', timeout: 120_000 }, async (t) => {
  const clip = await webcamClip(320, 240);
  const srv = await startTestApp({ web: true, defaultModel: 'invert' });
  const browser = await launchChromium({ fakeCameraY4m: clip });
  try {
    const page = await browser.newPage();
    await page.goto(srv.url);
    await page.locator('[data-testid="model-select"] option[value="invert"]').waitFor({ state: 'attached' });
    await page.selectOption('[data-testid="model-select"]', 'invert');
    await page.locator('[data-testid="smoothing"]').fill('0');
    await page.click('[data-testid="start"]');
    await page.waitForFunction(
      () => {
        const v = document.querySelector<HTMLVideoElement>('[data-testid="output-video"]');
        return !!v && v.videoWidth > 0 && v.currentTime > 0.3;
      },
      undefined,
      { timeout: 20_000 },
    );
    assert.equal(await page.textContent('[data-testid="status"]'), 'live');
    await page.evaluate(PROBE_SOURCE);

    const inverted = await probe(page, 'invert', 2500);
    assert.ok(inverted.frames >= 10, `output played ${inverted.frames} frames in 2.5 s`);
    assert.ok(median(inverted.errors) < MAX_MEAN_ABS_ERROR, `output vs inverted input: median error ${median(inverted.errors).toFixed(1)}`);
    assert.ok(median(inverted.controlErrors) > 2 * MAX_MEAN_ABS_ERROR, `output vs raw input: median error ${median(inverted.controlErrors).toFixed(1)} (should differ)`);

    t.diagnostic(`invert: ${inverted.frames} frames, median error ${median(inverted.errors).toFixed(1)}, control ${median(inverted.controlErrors).toFixed(1)}`);
    // Stats reach the page once a second.
    await waitFor(async () => (await page.textContent('[data-testid="stat-backend"]')) === 'cpu', 5000);
    assert.equal(await page.textContent('[data-testid="stat-backend"]'), 'cpu');
    assert.ok(Number(await page.textContent('[data-testid="stat-fps-out"]')) > 0);

    // A webcam session is a stream too: the page offers the embed snippet, and the embed page plays it.
    const streamId = srv.app.sessions.all()[0]!.id;
    const snippet = await page.inputValue('[data-testid="embed-snippet"]');
    assert.ok(snippet.includes(`/embed/${streamId}"`), snippet);
    const embedUrl = await page.getAttribute('[data-testid="embed-link"]', 'href');
    assert.equal(embedUrl, `${srv.url}/embed/${streamId}`);
    const viewer = await browser.newPage();
    await viewer.goto(embedUrl!);
    await viewer.locator('[data-testid="embed-player"][data-state="live"]').waitFor({ timeout: 20_000 });
    assert.equal(srv.app.sessions.all()[0]!.counters().viewers, 1);
    await viewer.close();
    assert.ok(await waitFor(() => srv.app.sessions.all()[0]!.counters().viewers === 0, 8000), 'the closed embed page still counts as a viewer');

    // Switch models while live: no renegotiation, the new transform shows promptly.
    await page.evaluate(() => (window as unknown as { __probe: ProbeHandle }).__probe.start('swap-rb'));
    const switchedAt = await page.evaluate(() => performance.now());
    await page.selectOption('[data-testid="model-select"]', 'swap-rb');
    const swapped = await probe(page, 'swap-rb', 2000);
    const firstGood = swapped.errors.findIndex((e) => e < MAX_MEAN_ABS_ERROR);
    assert.ok(firstGood >= 0, `no output frame matched swap-rb after the switch (errors ${swapped.errors.map((e) => e.toFixed(0)).join(',')})`);
    const switchMs = swapped.times[firstGood]! - switchedAt;
    t.diagnostic(`swap-rb shown ${switchMs.toFixed(0)} ms after the switch; median error ${median(swapped.errors.slice(firstGood)).toFixed(1)}`);
    // The product target is 1 s (the time is printed above); a 2-core runner that was also training
    // models took up to 1.4 s, so this bound only catches a switch that waits for something (a
    // renegotiation, a key frame interval), not a slow machine.
    assert.ok(switchMs <= 3000, `new model showed after ${switchMs.toFixed(0)} ms`);
    assert.equal(await page.textContent('[data-testid="status"]'), 'live');

    await page.click('[data-testid="stop"]');
    const freed = await waitFor(() => {
      const h = srv.app.health();
      return h.sessions === 0 && h.openCodecs === 0 && h.openModelSessions === 0;
    }, 5000);
    assert.ok(freed, `after stop: ${JSON.stringify(srv.app.health())}`);
    assert.equal(await page.textContent('[data-testid="status"]'), 'idle');
  } finally {
    await browser.close();
    await srv.close();
  }
});
