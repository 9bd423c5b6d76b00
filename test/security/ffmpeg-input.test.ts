/**
 * Class: an upload must never make FFmpeg read anything but the upload (issue 12, section 1).
 *
 * The hostile files (test/fixtures/security/make-polyglots.ts) are playlists, scripts and
 * manifests that name another file, among them the 2 KB file that is both raw H.264 and
 * an HLS playlist. First the fixtures are shown to be live (FFmpeg left to guess follows them to
 * the other file); then the job route, the image route and the CLI refuse every one with 415 /
 * exit 3, and the file they name, a named pipe, is never opened by anyone (fifo-watch.ts).
 * Accepted uploads are stored under the name of the container their bytes show.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, openAsBlob, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { Dictionary, FormatContext, Packet } from 'node-av';
import { setFfmpegLogLevel } from '../../server/codec/index.js';
import { startTestApp } from '../helpers/app.js';
import { bearer, uploadJob } from '../helpers/jobs-http.js';
import { FIXTURE_MODELS_DIR, REPO_ROOT } from '../helpers/paths.js';
import { makeDrefMp4 } from '../fixtures/security/make-dref-mp4.js';
import { makePolyglots, type PolyglotName } from '../fixtures/security/make-polyglots.js';
import { probeVideo } from '../../server/jobs/index.js';
import { CLIPS, tempDir } from '../server/jobs/helpers.js';
import { makeFifo, watchFifo } from './fifo-watch.js';

type Srv = Awaited<ReturnType<typeof startTestApp>>;
let srv: Srv;
let work: Awaited<ReturnType<typeof tempDir>>;
let dataDir: string;
/** Fixtures naming a real copy of a clip: to show what FFmpeg does when it guesses. */
let live: Record<PolyglotName, string>;
/** The same fixtures naming a named pipe: to prove nobody opens it. */
let hostile: Record<PolyglotName, string>;
let fifo: string;

before(async () => {
  setFfmpegLogLevel('quiet');
  work = await tempDir('cyclestream-sec-ffmpeg-');
  const secret = path.join(work.dir, 'secret.mp4');
  copyFileSync(CLIPS.mpeg4, secret);
  fifo = makeFifo(path.join(work.dir, 'secret.fifo'));
  live = await makePolyglots(path.join(work.dir, 'live'), secret);
  hostile = await makePolyglots(path.join(work.dir, 'hostile'), fifo);
  const data = await tempDir('cyclestream-sec-data-');
  dataDir = data.dir;
  srv = await startTestApp({ dataDir, providers: ['cpu'], processingShortSidePx: 128 });
});

after(async () => {
  await srv?.close();
  await work?.cleanup();
});

function cli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'cli.mjs'), ...args], {
      env: { ...process.env, PROVIDERS: 'cpu', INTRA_OP_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => void (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** What FFmpeg makes of a file under a given name, left to guess (no format, default options). */
async function guess(file: string, name: string, options: Record<string, string> = {}) {
  const named = path.join(work.dir, name);
  copyFileSync(file, named);
  const ctx = new FormatContext();
  const opts = Object.keys(options).length ? Dictionary.fromObject(options) : null;
  const ret = await ctx.openInput(named, null, opts);
  opts?.free();
  assert.ok(ret >= 0, `${name} opens`);
  try {
    await ctx.findStreamInfo(null);
    const s = ctx.streams[0]!.codecpar;
    return { format: ctx.iformat?.name, codecId: s.codecId, width: s.width, height: s.height };
  } finally {
    await ctx.closeInput();
  }
}

test('the fixtures are live: FFmpeg left to guess reads the file they name', async () => {
  const target = await guess(CLIPS.mpeg4, 'target.mp4');
  const asPlaylist = await guess(live['hls-h264'], 'upload.m3u8');
  assert.equal(asPlaylist.format, 'hls');
  assert.equal(asPlaylist.codecId, target.codecId, 'the HLS demuxer followed the link to the other clip');
  const asH264 = await guess(live['hls-h264'], 'upload.h264');
  assert.deepEqual([asH264.format, asH264.width, asH264.height], ['h264', 64, 64], 'the same bytes are valid raw H.264');
  const concat = await guess(live.ffconcat, 'upload.ffconcat', { safe: '0' });
  assert.deepEqual([concat.format, concat.width, concat.height], ['concat', target.width, target.height]);

  // And the watcher does see a reader: FFmpeg following the hostile script to the pipe is caught.
  const watch = watchFifo(fifo);
  try {
    const named = path.join(work.dir, 'upload-to-pipe.ffconcat');
    copyFileSync(hostile.ffconcat, named);
    const ctx = new FormatContext();
    const opts = Dictionary.fromObject({ safe: '0' });
    const ret = await ctx.openInput(named, null, opts);
    opts.free();
    if (ret >= 0) await ctx.closeInput();
    assert.equal(watch.opened, true, 'the watcher saw FFmpeg open the pipe');
  } finally {
    watch.stop();
  }
});

test('job route: every reference format and polyglot is refused with 415, and the file it names is never opened', async (t) => {
  const watch = watchFifo(fifo);
  try {
    for (const [kind, file] of Object.entries(hostile)) {
      for (const name of ['clip.m3u8', 'clip.mp4', 'clip.h264']) {
        const res = await uploadJob(srv.url, await openAsBlob(file), name, { modelId: 'invert' });
        assert.equal(res.status, 415, `${kind} as ${name}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'MEDIA_UNSUPPORTED');
        assert.match(res.body.error.message, /only MP4\/MOV or Matroska\/WebM videos are accepted/);
        assert.doesNotMatch(res.body.error.message, /\/tmp|secret/, 'no server path in the message');
        if (name === 'clip.mp4') t.diagnostic(`${kind}: ${res.body.error.message}`);
      }
      const form = new FormData();
      form.set('modelId', 'invert');
      form.set('file', await openAsBlob(file), 'photo.png');
      const image = await fetch(`${srv.url}/api/translate/image`, { method: 'POST', body: form });
      assert.equal(image.status, 415, `${kind} on the image route`);
      await image.arrayBuffer();
    }
    // Anything the server still had in flight would have had time to reach the pipe by now.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(watch.opened, false, 'nothing opened the file the uploads name');
  } finally {
    watch.stop();
  }
  assert.deepEqual(await srv.app.jobs.list(), [], 'no job was made');
  assert.deepEqual(readdirSync(path.join(dataDir, 'uploads')), [], 'no upload kept');
  assert.deepEqual(readdirSync(path.join(dataDir, 'jobs')), []);
});

test('CLI: the same files are refused (exit 3) without opening what they name', async () => {
  const input = path.join(work.dir, 'clip.m3u8');
  copyFileSync(hostile['hls-h264'], input);
  const watch = watchFifo(fifo);
  try {
    const r = await cli(['translate', input, '-o', path.join(work.dir, 'out.mp4'), '-m', 'invert', '--models-dir', FIXTURE_MODELS_DIR]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /is an HLS\/M3U playlist; only MP4\/MOV or Matroska\/WebM videos are accepted/);
    assert.equal(watch.opened, false);
  } finally {
    watch.stop();
  }
});

test('accepted uploads are stored and served as the container their bytes show, whatever their name', async () => {
  const cases = [
    { clip: CLIPS.vp9, name: 'holiday.mp4', file: 'input.webm', type: 'video/webm' },
    { clip: CLIPS.mpeg4, name: 'playlist.m3u8', file: 'input.mp4', type: 'video/mp4' },
  ];
  for (const c of cases) {
    const res = await uploadJob(srv.url, await openAsBlob(c.clip), c.name, { modelId: 'invert' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { id, token, inputName } = res.body;
    assert.equal(inputName, c.name, 'the client name is shown, never used');
    assert.deepEqual(readdirSync(path.join(dataDir, 'jobs', id)).filter((f) => f.startsWith('input')), [c.file]);
    const input = await fetch(`${srv.url}/api/jobs/${id}/input`, { headers: bearer(token) });
    assert.equal(input.headers.get('content-type'), c.type);
    assert.equal(input.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(Buffer.from(await input.arrayBuffer()), readFileSync(c.clip));
    await srv.app.jobs.cancel(id);
  }
});

test('an MP4 whose samples live in another file: FFmpeg with data references on reads it; the probe and the CLI never open it', async () => {
  // Live: beside a real clip, with enable_drefs on, the demuxer plays the other file.
  const liveDir = path.join(work.dir, 'dref-live');
  mkdirSync(liveDir);
  copyFileSync(CLIPS.mpeg4, path.join(liveDir, 'secret.mp4'));
  makeDrefMp4(CLIPS.mpeg4, path.join(liveDir, 'movie.mp4'), 'secret.mp4');
  const ctx = new FormatContext();
  const opts = Dictionary.fromObject({ enable_drefs: '1' });
  assert.ok((await ctx.openInput(path.join(liveDir, 'movie.mp4'), null, opts)) >= 0);
  opts.free();
  const pkt = new Packet();
  pkt.alloc();
  let withData = 0;
  while ((await ctx.readFrame(pkt)) >= 0) {
    if (pkt.data?.some((b) => b !== 0)) withData++;
    pkt.unref();
  }
  pkt.free();
  await ctx.closeInput();
  assert.ok(withData > 100, `packets came from the other file (${withData})`);

  // Hostile: the same MP4 beside a named pipe; the probe and the CLI must not open it.
  const hostileDir = path.join(work.dir, 'dref-hostile');
  mkdirSync(hostileDir);
  const pipe = makeFifo(path.join(hostileDir, 'secret.fifo'));
  const movie = path.join(hostileDir, 'movie.mp4');
  makeDrefMp4(CLIPS.mpeg4, movie, 'secret.fifo');
  const watch = watchFifo(pipe);
  try {
    // Its own media data is zeros, so it is refused; what matters is that it is refused without the pipe.
    await assert.rejects(probeVideo(movie, { maxWidthPx: 4096, maxHeightPx: 4096 }, 'movie.mp4'), /movie\.mp4/);
    const r = await cli(['translate', movie, '-o', path.join(work.dir, 'dref-out.mp4'), '-m', 'invert', '--models-dir', FIXTURE_MODELS_DIR]);
    assert.equal(r.code, 3, r.stderr);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(watch.opened, false, 'the referenced file was never opened');
  } finally {
    watch.stop();
  }
});
