/**
 * The upload page as a person uses it, in headless Debian Chromium (which plays H.264 MP4):
 * choose a real clip, pick the `invert` fixture model, upload, watch the progress bar move,
 * play the translated video next to the original, download it (the right number of frames,
 * through a link that carries the job's token), see the job in the list, still there after a
 * reload; then a file that is not a video (an error in words) and an image.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { chromiumAvailable, launchChromium } from '../helpers/browser.js';
import { startTestApp } from '../helpers/app.js';
import { SHARED_DIR } from '../helpers/paths.js';
import { CLIPS, readVideo, tempDir } from '../server/jobs/helpers.js';

const PROGRESS_RECORDER = `(() => {
  const seen = [];
  window.__progress = seen;
  new MutationObserver(() => {
    const bar = document.querySelector('[data-testid="progress"]');
    const v = bar ? Number(bar.getAttribute('aria-valuenow')) : NaN;
    if (!Number.isNaN(v) && seen[seen.length - 1] !== v) seen.push(v);
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow'] });
})()`;

test('upload page: progress moves, the result plays and downloads, errors read as words, images work', { skip: !chromiumAvailable() && 'no /usr/bin/chromium', timeout: 120_000 }, async (t) => {
  const work = await tempDir('cyclestream-e2e-');
  const srv = await startTestApp({ web: true, providers: ['cpu'], processingShortSidePx: 128 });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${srv.url}/`);
    await page.click('[data-testid="nav-upload"]');
    await page.waitForURL(/\/upload$/);
    await page.locator('[data-testid="model-select"] option[value="invert"]').waitFor({ state: 'attached' });
    await page.selectOption('[data-testid="model-select"]', 'invert');
    await page.setInputFiles('[data-testid="upload-input"]', CLIPS.cows);
    assert.equal(await page.textContent('[data-testid="upload-file"]'), 'davis-cows.mp4');

    // Every value the progress bar shows, from the moment it appears. A string, not a
    // function: tsx would wrap named inner functions in a helper the page does not have.
    await page.evaluate(PROGRESS_RECORDER);
    await page.click('[data-testid="upload-submit"]');
    await page.waitForFunction(() => document.querySelector('[data-testid="job-state"]')?.textContent === 'done', undefined, { timeout: 60_000 });
    const seen = await page.evaluate(() => (window as unknown as { __progress: number[] }).__progress);
    t.diagnostic(`progress values shown: ${seen.join(', ')}`);
    assert.ok(seen.some((v) => v > 0 && v < 100), 'the bar showed a value between 0 and 100');
    assert.equal(seen[seen.length - 1], 100);
    assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'never moved backwards');

    // The translated video plays in the page (Debian's Chromium decodes H.264).
    const playback = await page.evaluate(async () => {
      const v = document.querySelector<HTMLVideoElement>('[data-testid="result-video"]')!;
      v.muted = true;
      await v.play();
      await new Promise((r) => setTimeout(r, 1200));
      return { canPlay: v.canPlayType('video/mp4; codecs="avc1.42E01E"'), width: v.videoWidth, height: v.videoHeight, time: v.currentTime, error: v.error?.code ?? null };
    });
    t.diagnostic(`result video: ${JSON.stringify(playback)}`);
    assert.equal(playback.error, null);
    assert.deepEqual([playback.width, playback.height], [854, 480]);
    assert.ok(playback.time > 0.5, `played to ${playback.time} s`);
    assert.ok(await page.isVisible('[data-testid="original-video"]'));

    const href = await page.getAttribute('[data-testid="download"]', 'href');
    // The link carries the job's token (a download cannot send headers); without it the result is refused.
    assert.match(href ?? '', /^\/api\/jobs\/[0-9a-f-]{36}\/result\?download=1&token=[A-Za-z0-9_-]{43}$/);
    const anonymous = await fetch(`${srv.url}${href!.replace(/&token=.*$/, '')}`);
    assert.equal(anonymous.status, 401);
    await anonymous.arrayBuffer();
    const res = await fetch(`${srv.url}${href}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="davis-cows-invert\.mp4"/);
    const file = path.join(work.dir, 'downloaded.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    assert.equal((await readVideo(file)).frames.length, 104);
    assert.match((await page.textContent('[data-testid="job-list"]')) ?? '', /davis-cows\.mp4[\s\S]*done/);

    // The page keeps its own jobs' tokens in localStorage: after a reload the job is still listed.
    const stored = await page.evaluate(() => window.localStorage.getItem('cyclestream.jobTokens'));
    assert.match(stored ?? '', /"token":"[A-Za-z0-9_-]{43}"/);
    await page.reload();
    await page.waitForFunction(() => /davis-cows\.mp4[\s\S]*done/.test(document.querySelector('[data-testid="job-list"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.locator('[data-testid="model-select"] option[value="invert"]').waitFor({ state: 'attached' });
    await page.selectOption('[data-testid="model-select"]', 'invert');

    // Not a video: the banner says so in words and nothing is queued.
    const notVideo = path.join(work.dir, 'holiday.mp4');
    writeFileSync(notVideo, 'this is a text file\n'.repeat(40));
    await page.setInputFiles('[data-testid="upload-input"]', notVideo);
    await page.click('[data-testid="upload-submit"]');
    const banner = page.locator('[data-testid="error-banner"]');
    await banner.waitFor({ timeout: 15_000 });
    const words = (await banner.textContent()) ?? '';
    t.diagnostic(`error banner: ${words}`);
    assert.match(words, /That file cannot be used/);
    assert.match(words, /holiday\.mp4.*is not a video file/);
    assert.equal(await page.locator('[data-testid="job-list"] li').count(), 1);

    // Image mode on the same page.
    const photo = path.join(work.dir, 'horse.png');
    await sharp(path.join(SHARED_DIR, 'datasets', 'horse2zebra', 'testA', 'n02381460_1000.jpg')).resize(200, 150).png().toFile(photo);
    await page.click('[data-testid="mode-image"]');
    await page.setInputFiles('[data-testid="upload-input"]', photo);
    await page.click('[data-testid="upload-submit"]');
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('[data-testid="result-image"]')?.naturalWidth ?? 0) > 0, undefined, { timeout: 30_000 });
    const dims = await page.evaluate(() => {
      const img = document.querySelector<HTMLImageElement>('[data-testid="result-image"]')!;
      return [img.naturalWidth, img.naturalHeight];
    });
    assert.deepEqual(dims, [200, 150]);
    assert.match((await page.getAttribute('[data-testid="download"]', 'download')) ?? '', /^horse-invert\.png$/);
  } finally {
    await browser.close();
    await srv.close();
    await work.cleanup();
  }
});
