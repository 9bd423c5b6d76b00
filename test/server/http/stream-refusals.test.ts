/**
 * WHIP ingest and WHEP playback over real HTTP: every listed bad input gets its status, and
 * ingest stays off until tokens are configured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp } from '../../helpers/app.js';
import type { BrowserPeer } from '../webrtc/browser-peer.js';
import { browserOffer, VP8, VP9 } from '../webrtc/offers.js';
import { TOKEN, errorOf, post, whip } from './stream-helpers.js';

test('WHIP refuses: no token 401, wrong token 403, wrong content type 415, malformed SDP 400, unknown model 404', { timeout: 30_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN] });
  try {
    const offer = browserOffer({ video: [VP8], videoDirection: 'sendonly' });
    const none = await post(`${srv.url}/whip/invert`, offer, { 'content-type': 'application/sdp' });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await errorOf(none)).code, 'UNAUTHORIZED');

    const wrong = await post(`${srv.url}/whip/invert`, offer, { 'content-type': 'application/sdp', authorization: 'Bearer not-the-right-token' });
    assert.equal(wrong.status, 403);
    assert.equal((await errorOf(wrong)).code, 'FORBIDDEN');

    const auth = { authorization: `Bearer ${TOKEN}` };
    const json = await post(`${srv.url}/whip/invert`, JSON.stringify({ sdp: offer }), { ...auth, 'content-type': 'application/json' });
    assert.equal(json.status, 415);
    assert.match((await errorOf(json)).message, /application\/sdp/);

    const bad = await post(`${srv.url}/whip/invert`, 'v=0\r\nthis is not sdp\r\n', { ...auth, 'content-type': 'application/sdp' });
    assert.equal(bad.status, 400);
    const badError = await errorOf(bad);
    assert.equal(badError.code, 'SDP_MALFORMED');
    assert.match(badError.message, /line 2/);

    const noVideo = await post(`${srv.url}/whip/invert`, browserOffer({ video: [VP9], videoDirection: 'sendonly' }), { ...auth, 'content-type': 'application/sdp' });
    assert.equal(noVideo.status, 400);
    assert.equal((await errorOf(noVideo)).code, 'UNSUPPORTED_CODEC');

    const unknown = await post(`${srv.url}/whip/no-such-model`, offer, { ...auth, 'content-type': 'application/sdp' });
    assert.equal(unknown.status, 404);
    assert.equal((await errorOf(unknown)).code, 'MODEL_NOT_FOUND');

    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openCodecs, h.openModelSessions], [0, 0, 0]);
  } finally {
    await srv.close();
  }
});

test('WHIP is off (403) until ingest tokens are configured', async () => {
  const srv = await startTestApp();
  try {
    const res = await post(`${srv.url}/whip/invert`, browserOffer({ video: [VP8] }), { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 403);
    assert.match((await errorOf(res)).message, /INGEST_TOKENS/);
  } finally {
    await srv.close();
  }
});

test('WHEP refuses: unknown stream 404, malformed SDP 400, wrong content type 415, viewer tokens 401/403, CORS preflight', { timeout: 30_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], viewerTokens: ['viewer-token-1'], embedOrigins: ['http://allowed.example'] });
  const peers: BrowserPeer[] = [];
  try {
    const offer = browserOffer({ video: [VP8], videoDirection: 'recvonly' });
    const auth = { authorization: 'Bearer viewer-token-1' };
    const unknown = await post(`${srv.url}/whep/00000000-0000-0000-0000-000000000000`, offer, { ...auth, 'content-type': 'application/sdp' });
    assert.equal(unknown.status, 404);
    assert.equal((await errorOf(unknown)).code, 'STREAM_NOT_FOUND');

    const { publisher, res } = await whip(srv.url);
    peers.push(publisher);
    const id = res.headers.get('x-stream-id')!;
    const bad = await post(`${srv.url}/whep/${id}`, 'hello', { ...auth, 'content-type': 'application/sdp' });
    assert.equal(bad.status, 400);
    assert.match((await errorOf(bad)).message, /v=0/);
    const wrongType = await post(`${srv.url}/whep/${id}`, offer, { ...auth, 'content-type': 'text/plain' });
    assert.equal(wrongType.status, 415);
    const sendOnly = await post(`${srv.url}/whep/${id}`, browserOffer({ video: [VP8], videoDirection: 'sendonly' }), { ...auth, 'content-type': 'application/sdp' });
    assert.equal(sendOnly.status, 400);
    assert.equal((await errorOf(sendOnly)).code, 'NO_VIDEO');
    // The stream is H.264; a viewer offering only VP8 cannot watch it.
    const vp8Only = await post(`${srv.url}/whep/${id}`, offer, { ...auth, 'content-type': 'application/sdp' });
    assert.equal(vp8Only.status, 400);
    assert.equal((await errorOf(vp8Only)).code, 'UNSUPPORTED_CODEC');

    assert.equal((await post(`${srv.url}/whep/${id}`, offer, { 'content-type': 'application/sdp' })).status, 401);
    assert.equal((await post(`${srv.url}/whep/${id}`, offer, { 'content-type': 'application/sdp', authorization: 'Bearer nope-nope-nope' })).status, 403);
    assert.equal((await fetch(`${srv.url}/api/streams/${id}?token=viewer-token-1`)).status, 200);
    assert.equal((await fetch(`${srv.url}/api/streams/${id}?token=wrong-token-x`)).status, 403);

    // A page on an allowed origin may play: the preflight says so and exposes Location.
    const pre = await fetch(`${srv.url}/whep/${id}`, {
      method: 'OPTIONS',
      headers: { origin: 'http://allowed.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://allowed.example');
    assert.match(pre.headers.get('access-control-expose-headers')!, /location/);
    const other = await fetch(`${srv.url}/whep/${id}`, { method: 'OPTIONS', headers: { origin: 'http://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const fromEvil = await post(`${srv.url}/whep/${id}`, offer, { ...auth, 'content-type': 'application/sdp', origin: 'http://evil.example' });
    assert.equal(fromEvil.status, 403);
  } finally {
    for (const p of peers) await p.close();
    await srv.close();
  }
});
