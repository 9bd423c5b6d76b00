/**
 * Issue 12 §3, session start. Class: a client that asks for more live sessions than its share,
 * or whose start goes wrong half-way. One socket has at most one start pending; sessions are
 * capped per address (429 + Retry-After) and globally (503 + Retry-After); a start that fails
 * closes its peer connection at once; and the idle timeout counts from the answer, not from
 * the offer, so a slow answer is not taken for a silent client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startTestApp, waitFor, type TestSocket } from '../helpers/app.js';
import { browserOffer, VP8 } from '../server/webrtc/offers.js';
import { BrowserPeer } from '../server/webrtc/browser-peer.js';
import { start, type StartResult } from './helpers.js';
import type { InferenceHost } from '../../server/inference/index.js';
import type { AppHooks } from '../../server/app.js';

const TOKEN = 'ingest-token-session-tests';
const offer = () => browserOffer({ video: [VP8] });

function errorCode(res: StartResult): string | undefined {
  return res.ok ? undefined : res.error.code;
}

async function stop(socket: TestSocket): Promise<void> {
  await new Promise((resolve) => socket.emit('session:stop', resolve as never));
}

/** The real host, with every generator's warm-up replaced. */
function warmup(replacement: (real: () => Promise<void>) => Promise<void>): AppHooks {
  return {
    wrapInferenceHost: (host: InferenceHost): InferenceHost => ({
      ...host,
      loadModel: async (id) => {
        const generator = await host.loadModel(id);
        return { ...generator, warmup: (w: number, h: number) => replacement(() => generator.warmup(w, h)) };
      },
    }),
  };
}

test('a second session:start on a socket while one is pending is refused; one session results', { timeout: 60_000 }, async () => {
  const srv = await startTestApp();
  const socket = await connect(srv.url);
  try {
    const [first, second] = await Promise.all([start(socket, { offerSdp: offer(), modelId: 'invert' }), start(socket, { offerSdp: offer(), modelId: 'invert' })]);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(errorCode(second), 'RATE_LIMITED');
    assert.match(!second.ok ? second.error.message : '', /already starting/);
    assert.equal(srv.app.health().sessions, 1);
    // Once the first is answered, a new start replaces it (the socket's one session).
    const third = await start(socket, { offerSdp: offer(), modelId: 'invert' });
    assert.equal(third.ok, true);
    assert.ok(await waitFor(() => srv.app.health().sessions === 1, 5000));
  } finally {
    socket.disconnect();
    await srv.close();
  }
});

test('sessions per address: over MAX_SESSIONS_PER_IP is 429 with Retry-After, on socket.io and WHIP; a stopped session frees its slot', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ maxSessionsPerIp: 1, ingestTokens: [TOKEN] });
  const a = await connect(srv.url);
  const b = await connect(srv.url);
  try {
    assert.equal((await start(a, { offerSdp: offer(), modelId: 'invert' })).ok, true);
    const refused = await start(b, { offerSdp: offer(), modelId: 'invert' });
    assert.equal(errorCode(refused), 'RATE_LIMITED');
    assert.match(!refused.ok ? refused.error.message : '', /MAX_SESSIONS_PER_IP/);

    const whip = await fetch(`${srv.url}/whip/invert`, {
      method: 'POST',
      body: browserOffer({ video: [VP8], videoDirection: 'sendonly' }),
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(whip.status, 429);
    assert.equal(whip.headers.get('retry-after'), '10');
    assert.equal(((await whip.json()) as { error: { code: string } }).error.code, 'RATE_LIMITED');
    assert.equal(srv.app.health().openModelSessions, 1, 'the refused starts loaded no model');

    await stop(a);
    assert.equal((await start(b, { offerSdp: offer(), modelId: 'invert' })).ok, true, 'the slot came back');
  } finally {
    a.disconnect();
    b.disconnect();
    await srv.close();
  }
});

test('sessions globally: over MAX_SESSIONS is 503 SERVER_BUSY with Retry-After', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ maxSessions: 1, ingestTokens: [TOKEN] });
  const a = await connect(srv.url);
  const b = await connect(srv.url);
  try {
    assert.equal((await start(a, { offerSdp: offer(), modelId: 'invert' })).ok, true);
    assert.equal(errorCode(await start(b, { offerSdp: offer(), modelId: 'invert' })), 'SERVER_BUSY');
    const whip = await fetch(`${srv.url}/whip/invert`, {
      method: 'POST',
      body: browserOffer({ video: [VP8], videoDirection: 'sendonly' }),
      headers: { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(whip.status, 503);
    assert.equal(whip.headers.get('retry-after'), '10');
    assert.match(((await whip.json()) as { error: { message: string } }).error.message, /MAX_SESSIONS/);
  } finally {
    a.disconnect();
    b.disconnect();
    await srv.close();
  }
});

test('a start that fails after its peer connection exists closes that peer at once, not at its idle timeout', { timeout: 60_000 }, async () => {
  // The warm-up runs beside the peer's creation; it fails, the peer is made all the same.
  const srv = await startTestApp({ idleTimeoutMs: 60_000 }, warmup(async () => {
    throw new Error('warm-up failed at /opt/models/secret.onnx');
  }));
  const socket = await connect(srv.url);
  try {
    const res = await start(socket, { offerSdp: offer(), modelId: 'invert' });
    assert.equal(errorCode(res), 'MODEL_LOAD_FAILED');
    assert.doesNotMatch(!res.ok ? res.error.message : '', /\/opt\/models/);
    // Checked as soon as the refusal arrives: nothing is left for the 60 s idle timeout to find.
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openPeers, h.openModelSessions], [0, 0, 0]);
  } finally {
    socket.disconnect();
    await srv.close();
  }
});

test('the idle timeout starts when the answer is sent: a slow answer is not an idle client', { timeout: 60_000 }, async () => {
  // The warm-up takes longer than the idle timeout; the timer must not run meanwhile.
  const srv = await startTestApp({ idleTimeoutMs: 1000 }, warmup(async (real) => {
    await new Promise((r) => setTimeout(r, 2500));
    await real();
  }));
  const socket = await connect(srv.url);
  const peer = new BrowserPeer({ codecs: ['vp8'] });
  const order: string[] = [];
  socket.on('session:closed', ({ reason }) => order.push(`closed:${reason}`));
  try {
    const res = await start(socket, { offerSdp: await peer.createOffer(), modelId: 'invert' });
    order.push('answer');
    assert.equal(res.ok, true, JSON.stringify(res));
    const session = srv.app.sessions.get(res.ok ? res.sessionId : '');
    assert.equal(session?.closed, false, 'live when its answer arrives');
    // No media ever comes: the idle timeout closes it, after the answer.
    assert.ok(await waitFor(() => order.length === 2, 10_000), order.join(', '));
    assert.deepEqual(order, ['answer', 'closed:idle-timeout']);
  } finally {
    socket.disconnect();
    await peer.close();
    await srv.close();
  }
});
