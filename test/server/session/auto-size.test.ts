/**
 * A live session left on auto runs a model with `cpuShortSidePx` at that smaller short side on
 * the CPU, follows model switches while it stays auto, and keeps a size the client named. The
 * hint is set on a scratch copy of the swap-rb fixture (test/fixtures/models/), as
 * test/server/http/api.test.ts sets its group and summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, startTestApp, waitFor, type TestSocket } from '../../helpers/app.js';
import { scratchModels } from '../inference/helpers.js';
import { BrowserPeer } from '../webrtc/browser-peer.js';
import { encodeFrames } from '../webrtc/encode.js';
import type { SessionInfo, SessionOptions, SessionStats, WireError } from '../../../server/contract/index.js';

type Ack<T> = ({ ok: true } & T) | { ok: false; error: WireError };

function emit<T>(socket: TestSocket, event: 'session:start' | 'session:options' | 'session:model', payload: object): Promise<Ack<T>> {
  return new Promise((resolve) => socket.emit(event, payload as never, resolve as never));
}

async function options(socket: TestSocket, payload: object): Promise<Pick<SessionOptions, 'processingShortSidePx' | 'processingAuto'>> {
  const res = await emit<SessionOptions>(socket, 'session:options', payload);
  assert.ok(res.ok, res.ok ? '' : res.error.message);
  return { processingShortSidePx: res.processingShortSidePx, processingAuto: res.processingAuto };
}

test('auto takes the model hint on the CPU and follows model switches; an explicit size stays', { timeout: 90_000 }, async () => {
  const models = await scratchModels();
  const manifestPath = join(models.dir, 'swap-rb.json');
  const swap = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  await writeFile(manifestPath, JSON.stringify({ ...swap, cpuShortSidePx: 128 }));
  const srv = await startTestApp({ modelsDir: models.dir, providers: ['cpu'], processingShortSidePx: 192 });
  const socket = await connect(srv.url);
  const peer = new BrowserPeer({ codecs: ['vp8'] });
  let stats: SessionStats | undefined;
  socket.on('session:stats', (s) => (stats = s));
  const frames = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 150 });
  let next = 0;
  // Sends frames until the server reports the processing height, or the frames run out.
  const processedAt = async (height: number): Promise<boolean> =>
    waitFor(async () => {
      if (next < frames.length) await peer.sendFrame('vp8', frames[next++]!);
      return stats?.processingHeight === height;
    }, 20_000, 33);
  try {
    const started = await emit<SessionInfo>(socket, 'session:start', { offerSdp: await peer.createOffer(), modelId: 'swap-rb' });
    assert.ok(started.ok, started.ok ? '' : started.error.message);
    assert.deepEqual([started.processingShortSidePx, started.processingAuto], [128, true]);
    await peer.acceptAnswer(started.answerSdp);
    await peer.connected();
    assert.ok(await processedAt(128), `processing height ${stats?.processingHeight}`);

    // Auto follows the switch: the fixture without a hint runs at the server's default.
    const switched = await emit<{ modelId: string }>(socket, 'session:model', { modelId: 'invert' });
    assert.ok(switched.ok);
    assert.deepEqual(await options(socket, { smoothing: 0 }), { processingShortSidePx: 192, processingAuto: true });
    assert.ok(await processedAt(192), `processing height ${stats?.processingHeight}`);

    // A named size survives a switch back to the hinted model; 'auto' hands it back to the server.
    assert.deepEqual(await options(socket, { processingShortSidePx: 160 }), { processingShortSidePx: 160, processingAuto: false });
    assert.ok((await emit<{ modelId: string }>(socket, 'session:model', { modelId: 'swap-rb' })).ok);
    assert.deepEqual(await options(socket, { smoothing: 0 }), { processingShortSidePx: 160, processingAuto: false });
    assert.deepEqual(await options(socket, { processingShortSidePx: 'auto' }), { processingShortSidePx: 128, processingAuto: true });

    const bad = await emit<SessionOptions>(socket, 'session:options', { processingShortSidePx: 'tiny' });
    assert.ok(!bad.ok && bad.error.code === 'BAD_REQUEST');
  } finally {
    await new Promise((resolve) => socket.emit('session:stop', resolve));
    socket.disconnect();
    await peer.close();
    await srv.close();
    await models.cleanup();
  }
});
