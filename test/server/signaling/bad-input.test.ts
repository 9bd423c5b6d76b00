/**
 * Bad input at the signaling boundary: each gets a typed error in the ack, nothing leaks, and
 * the server keeps serving. Offers are hand-built SDP in the shape Chromium sends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startTestApp, waitFor, type TestSocket } from '../../helpers/app.js';
import { browserOffer, VP8, VP9, AV1 } from '../webrtc/offers.js';
import type { SessionInfo, WireError } from '../../../server/contract/index.js';

type StartResult = ({ ok: true } & SessionInfo) | { ok: false; error: WireError };

/** An audio-only offer: the video section of a normal one removed, and the bundle group fixed. */
function audioOnlyOffer(): string {
  const sdp = browserOffer({ video: [VP8], audio: true });
  const [head, ...sections] = sdp.split(/\r\n(?=m=)/);
  const audio = sections.filter((s) => s.startsWith('m=audio'));
  const mids = audio.map((s) => /a=mid:(\S+)/.exec(s)?.[1]).filter(Boolean);
  return [head!.replace(/a=group:BUNDLE[^\r\n]*/, `a=group:BUNDLE ${mids.join(' ')}`), ...audio].join('\r\n');
}

function start(socket: TestSocket, payload: unknown): Promise<StartResult> {
  return new Promise((resolve) => socket.emit('session:start', payload as never, resolve as never));
}

function expectError(res: StartResult, code: string): WireError {
  assert.equal(res.ok, false, `expected ${code}, got a session`);
  const err = (res as { ok: false; error: WireError }).error;
  assert.equal(err.code, code, err.message);
  assert.ok(err.message.length > 0);
  return err;
}

describe('signaling rejects bad input with typed errors', () => {
  let srv: Awaited<ReturnType<typeof startTestApp>>;
  let socket: TestSocket;
  before(async () => {
    srv = await startTestApp({ maxSessions: 1, idleTimeoutMs: 1500 });
    socket = await connect(srv.url);
  });
  after(async () => {
    socket.disconnect();
    await srv.close();
  });

  const assertNothingOpen = async () => {
    const freed = await waitFor(() => {
      const h = srv.app.health();
      return h.sessions === 0 && h.openCodecs === 0 && h.openModelSessions === 0;
    }, 10_000);
    assert.ok(freed, JSON.stringify(srv.app.health()));
  };

  test('malformed SDP', async () => {
    const err = expectError(await start(socket, { offerSdp: 'this is not sdp', modelId: 'invert' }), 'SDP_MALFORMED');
    assert.match(err.message, /sdp|SDP/);
    await assertNothingOpen();
  });

  test('an offer with no video', async () => {
    expectError(await start(socket, { offerSdp: audioOnlyOffer(), modelId: 'invert' }), 'NO_VIDEO');
    await assertNothingOpen();
  });

  test('an offer with only unsupported codecs', async () => {
    const err = expectError(await start(socket, { offerSdp: browserOffer({ video: [VP9, AV1] }), modelId: 'invert' }), 'UNSUPPORTED_CODEC');
    assert.match(err.message, /VP8|H\.?264/);
    await assertNothingOpen();
  });

  test('unknown model id, and ids that try to leave the models folder', async () => {
    const offerSdp = browserOffer({ video: [VP8] });
    expectError(await start(socket, { offerSdp, modelId: 'no-such-model' }), 'MODEL_NOT_FOUND');
    expectError(await start(socket, { offerSdp, modelId: '../invert' }), 'MODEL_ID_INVALID');
    expectError(await start(socket, { offerSdp, modelId: 'x/invert' }), 'MODEL_ID_INVALID');
    expectError(await start(socket, { offerSdp, modelId: '..' }), 'MODEL_ID_INVALID');
    await assertNothingOpen();
  });

  test('a payload that does not fit the contract', async () => {
    expectError(await start(socket, { modelId: 'invert' }), 'BAD_REQUEST');
    expectError(await start(socket, { offerSdp: 'v=0', modelId: 'invert', smoothing: 7 }), 'BAD_REQUEST');
  });

  test('a model file that fails to load, at start', async () => {
    expectError(await start(socket, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'broken' }), 'MODEL_LOAD_FAILED');
    await assertNothingOpen();
  });

  test('a model that fails to load while live: error event, previous model kept', async () => {
    const res = await start(socket, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' });
    assert.ok(res.ok, JSON.stringify(res));
    const errorEvent = new Promise<WireError>((resolve) => socket.once('session:error', resolve));
    const ack = await new Promise<{ ok: boolean; error?: WireError }>((resolve) => socket.emit('session:model', { modelId: 'broken' }, resolve as never));
    assert.equal(ack.ok, false);
    assert.equal(ack.error?.code, 'MODEL_LOAD_FAILED');
    assert.equal((await errorEvent).code, 'MODEL_LOAD_FAILED');
    const session = srv.app.sessions.get(res.sessionId);
    assert.equal(session?.modelId, 'invert');
    assert.equal(srv.app.health().openModelSessions, 1);
    await new Promise((resolve) => socket.emit('session:stop', resolve as never));
    await assertNothingOpen();
  });

  test('more sessions than the limit: busy', async () => {
    const first = await start(socket, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' });
    assert.ok(first.ok);
    const other = await connect(srv.url);
    try {
      expectError(await start(other, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' }), 'SERVER_BUSY');
    } finally {
      other.disconnect();
    }
    await new Promise((resolve) => socket.emit('session:stop', resolve as never));
    await assertNothingOpen();
  });

  test('a client that never sends media is closed by the idle timeout', async () => {
    const closed = new Promise<{ reason: string }>((resolve) => socket.once('session:closed', resolve));
    const res = await start(socket, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' });
    assert.ok(res.ok);
    assert.equal((await closed).reason, 'idle-timeout');
    await assertNothingOpen();
  });

  test('a client that vanishes: its session is closed within 10 s', async () => {
    const gone = await connect(srv.url);
    const res = await start(gone, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' });
    assert.ok(res.ok);
    assert.equal(srv.app.health().sessions, 1);
    // Drop the transport without a goodbye, as a crashed tab or lost network would.
    (gone.io.engine as unknown as { transport: { ws?: { terminate?: () => void; close: () => void } } }).transport.ws?.close();
    await assertNothingOpen();
  });

  test('the server still serves after all of that', async () => {
    const res = await fetch(`${srv.url}/api/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { ok: boolean }).ok, true);
  });
});
