/**
 * The server's SMOOTHING is the one default: a webcam session that sends none runs with it
 * (the socket schema used to carry a second default of its own), and one that sends a value
 * keeps it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, startTestApp, type TestSocket } from '../../helpers/app.js';
import { BrowserPeer } from '../webrtc/browser-peer.js';
import type { SessionInfo, SessionStats, WireError } from '../../../server/contract/index.js';

type Ack<T> = ({ ok: true } & T) | { ok: false; error: WireError };

function emit<T>(socket: TestSocket, event: 'session:start' | 'session:options', payload: object): Promise<Ack<T>> {
  return new Promise((resolve) => socket.emit(event, payload as never, resolve as never));
}

async function smoothingOf(socket: TestSocket, start: object): Promise<{ options: number; stats: number }> {
  const peer = new BrowserPeer({ codecs: ['vp8'] });
  try {
    const started = await emit<SessionInfo>(socket, 'session:start', { offerSdp: await peer.createOffer(), modelId: 'invert', ...start });
    assert.ok(started.ok, started.ok ? '' : started.error.message);
    const stats = await new Promise<SessionStats>((resolve) => socket.once('session:stats', resolve));
    const options = await emit<{ smoothing: number }>(socket, 'session:options', { processingShortSidePx: 128 });
    assert.ok(options.ok);
    return { options: options.smoothing, stats: stats.smoothing };
  } finally {
    await new Promise((resolve) => socket.emit('session:stop', resolve));
    await peer.close();
  }
}

test('a webcam session without smoothing gets SMOOTHING; one with it keeps its own', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ smoothing: 0.2 });
  const socket = await connect(srv.url);
  try {
    assert.deepEqual(await smoothingOf(socket, {}), { options: 0.2, stats: 0.2 });
    assert.deepEqual(await smoothingOf(socket, { smoothing: 0.9 }), { options: 0.9, stats: 0.9 });
  } finally {
    socket.disconnect();
    await srv.close();
  }
});
