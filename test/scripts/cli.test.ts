/**
 * `cyclestream translate` as a person runs it: the real launcher (scripts/cli.mjs) in a child
 * process, no server. Videos and images are translated; bad input, a missing model or an
 * output in the way end with the documented exit code and a message naming the problem;
 * Ctrl-C stops cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FIXTURE_MODELS_DIR, REPO_ROOT, SHARED_DIR } from '../helpers/paths.js';
import { writeConvStackModel } from '../server/inference/conv-stack-model.js';
import { scratchModels } from '../server/inference/helpers.js';
import { CLIPS, fixtures, invertError, readVideo, tempDir } from '../server/jobs/helpers.js';

const CLI = path.join(REPO_ROOT, 'scripts', 'cli.mjs');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? path.join(REPO_ROOT, 'test'),
      env: { ...process.env, PROVIDERS: 'cpu', INTRA_OP_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => void (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      opts.onStderr?.(stderr, (s) => child.kill(s));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

test('help and usage errors', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /cyclestream translate <input> -o <output> \[--model <id>\]/);
  const sub = await cli(['translate', '--help']);
  assert.equal(sub.code, 0);
  const none = await cli([]);
  assert.equal(none.code, 2);
  for (const args of [['translate', CLIPS.mpeg4, '--model', 'invert'], ['translate', '-o', 'x.mp4', '--model', 'invert'], ['frobnicate'], ['translate', CLIPS.mpeg4, '-o', 'x.mp4', '--model', 'invert', '--bogus']]) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^cyclestream: .+\nRun `cyclestream --help`/);
  }
});

test('video: translated to MP4 with quiet progress lines when not on a terminal', async (t) => {
  const work = await tempDir('cyclestream-cli-');
  try {
    const out = path.join(work.dir, 'gallop.mp4');
    const r = await cli(['translate', CLIPS.mpeg4, '-o', out, '--model', 'invert', '--models-dir', FIXTURE_MODELS_DIR, '--smoothing', '0', '--size', 'x108', '--processing-px', '128']);
    t.diagnostic(r.stderr.trim().split('\n').slice(-3).join(' | '));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /progress 100% \(133\/133 frames/);
    assert.doesNotMatch(r.stderr, /\r/, 'no terminal redraws in a log');
    assert.match(r.stderr, /wrote .*gallop\.mp4 \(144x108, 133 frames/);
    const v = await readVideo(out);
    assert.deepEqual([v.videoCodec, v.width, v.height, v.frames.length], ['h264', 144, 108, 133]);
    assert.deepEqual(readdirSync(work.dir), ['gallop.mp4'], 'no partial file left');

    const withSound = path.join(work.dir, 'sound.mp4');
    const s = await cli(['translate', await fixtures.pcmClip(), '-o', withSound, '-m', 'invert', '--models-dir', FIXTURE_MODELS_DIR, '-q', '--processing-px', '128']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stderr, '', '--quiet prints nothing');
    assert.equal((await readVideo(withSound)).audio?.codec, 'aac');
  } finally {
    await work.cleanup();
  }
});

test('image: same size and format as asked, inverted', async (t) => {
  const work = await tempDir('cyclestream-cli-');
  try {
    const input = path.join(work.dir, 'horse.png');
    await sharp(path.join(SHARED_DIR, 'datasets', 'horse2zebra', 'testA', 'n02381460_1000.jpg')).resize(250, 170).png().toFile(input);
    for (const ext of ['png', 'jpg']) {
      const out = path.join(work.dir, `zebra.${ext}`);
      const r = await cli(['translate', input, '-o', out, '--model', 'invert', '--models-dir', FIXTURE_MODELS_DIR]);
      assert.equal(r.code, 0, r.stderr);
      const meta = await sharp(out).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], [ext === 'jpg' ? 'jpeg' : ext, 250, 170]);
      const a = await sharp(input).resize(50, 34, { fit: 'fill' }).raw().toBuffer();
      const b = await sharp(out).removeAlpha().resize(50, 34, { fit: 'fill' }).raw().toBuffer();
      const err = invertError(a, b);
      t.diagnostic(`${ext}: invert error ${err.toFixed(2)}`);
      assert.ok(err < 12, `${ext}: ${err}`);
    }
    const wrongExt = await cli(['translate', input, '-o', path.join(work.dir, 'zebra.mp4'), '--model', 'invert', '--models-dir', FIXTURE_MODELS_DIR]);
    assert.equal(wrongExt.code, 2);
    assert.match(wrongExt.stderr, /name the output \.jpg, \.png or \.webp/);
  } finally {
    await work.cleanup();
  }
});

test('failures: exit code and a message naming the problem, no output left behind', async (t) => {
  const work = await tempDir('cyclestream-cli-');
  try {
    const text = path.join(work.dir, 'notes.mp4');
    writeFileSync(text, 'not a video\n'.repeat(50));
    const empty = path.join(work.dir, 'empty.mp4');
    writeFileSync(empty, '');
    const taken = path.join(work.dir, 'taken.mp4');
    writeFileSync(taken, 'already here');
    const out = path.join(work.dir, 'out.mp4');
    const m = ['--models-dir', FIXTURE_MODELS_DIR];
    const cases: [string, string[], number, RegExp][] = [
      ['not a video', ['translate', text, '-o', out, '--model', 'invert', ...m], 3, /notes\.mp4 is not a video file/],
      ['zero-length file', ['translate', empty, '-o', out, '--model', 'invert', ...m], 3, /empty\.mp4 is empty/],
      ['no video stream', ['translate', await fixtures.audioOnly(), '-o', out, '--model', 'invert', ...m], 3, /has no video stream/],
      ['undecodable codec', ['translate', await fixtures.undecodable(), '-o', out, '--model', 'invert', ...m], 3, /avs2 cannot be decoded/],
      ['missing input', ['translate', path.join(work.dir, 'nope.mp4'), '-o', out, '--model', 'invert', ...m], 3, /cannot read .*nope\.mp4: ENOENT/],
      ['unknown model', ['translate', CLIPS.mpeg4, '-o', out, '--model', 'no-such-model', ...m], 4, /model no-such-model not found/],
      ['output exists', ['translate', CLIPS.mpeg4, '-o', taken, '--model', 'invert', ...m], 5, /exists; pass --force/],
      ['size too big', ['translate', CLIPS.mpeg4, '-o', out, '--model', 'invert', '--size', '99999x', ...m], 2, /--size/],
    ];
    for (const [what, args, code, message] of cases) {
      const r = await cli(args);
      t.diagnostic(`${what}: exit ${r.code}: ${r.stderr.trim().split('\n').at(-1)}`);
      assert.equal(r.code, code, `${what}: ${r.stderr}`);
      assert.match(r.stderr, message, what);
    }
    assert.deepEqual(readdirSync(work.dir).sort(), ['empty.mp4', 'notes.mp4', 'taken.mp4']);
  } finally {
    await work.cleanup();
  }
});

test('Ctrl-C during a run: exit 130, partial output removed', async () => {
  const work = await tempDir('cyclestream-cli-');
  const models = await scratchModels();
  try {
    await writeConvStackModel(models.dir, 'slow', 32, 6);
    const out = path.join(work.dir, 'stopped.mp4');
    let sent = false;
    const r = await cli(['translate', CLIPS.cows, '-o', out, '--model', 'slow', '--models-dir', models.dir, '--processing-px', '128'], {
      onStderr: (text, kill) => {
        if (!sent && /progress \d+%/.test(text)) {
          sent = true;
          kill('SIGINT');
        }
      },
    });
    assert.ok(sent, r.stderr);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(work.dir), []);
  } finally {
    await models.cleanup();
    await work.cleanup();
  }
});
