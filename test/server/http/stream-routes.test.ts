/**
 * WHIP ingest and WHEP playback over real HTTP and real werift peers: a publisher sends encoded
 * frames, viewers receive the translated stream, and every listed bad input gets its status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, waitFor } from '../../helpers/app.js';
import { BrowserPeer } from '../webrtc/browser-peer.js';
import { browserOffer, VP8, VP9 } from '../webrtc/offers.js';
import { encodeFrames } from '../webrtc/encode.js';
import type { StreamSummary } from '../../../server/contract/index.js';

const TOKEN = 'ingest-token-for-tests';
const OPERATOR = 'operator-token-for-tests';

async function post(url: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers });
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

/** Sends the encoded frames in a loop at ~30 fps until stopped. */
function pump(peer: BrowserPeer, frames: { data: Buffer; keyframe: boolean; ptsMs: number }[]): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    let i = 0;
    let pts = 0;
    while (running) {
      const f = frames[i % frames.length]!;
      await peer.sendFrame('h264', { data: f.data, ptsMs: pts });
      pts += 33;
      i++;
      await new Promise((r) => setTimeout(r, 33));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function whip(url: string, modelId = 'invert'): Promise<{ publisher: BrowserPeer; res: Response; answer: string }> {
  const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
  const res = await post(`${url}/whip/${modelId}`, await publisher.createOffer(), {
    'content-type': 'application/sdp',
    authorization: `Bearer ${TOKEN}`,
  });
  const answer = await res.text();
  return { publisher, res, answer };
}

async function whep(url: string, streamId: string): Promise<{ viewer: BrowserPeer; res: Response }> {
  const viewer = new BrowserPeer({ codecs: ['h264', 'vp8'], direction: 'recvonly' });
  const res = await post(`${url}/whep/${streamId}`, await viewer.createOffer(), { 'content-type': 'application/sdp' });
  if (res.status === 201) await viewer.acceptAnswer(await res.text());
  return { viewer, res };
}

test('WHIP publisher, two WHEP viewers: one encode fanned out, a leaving viewer does not disturb the other', { timeout: 90_000 }, async (t) => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], operatorTokens: [OPERATOR], maxViewersPerStream: 2 });
  const peers: BrowserPeer[] = [];
  let sender: { stop(): Promise<void> } | undefined;
  try {
    const { publisher, res, answer } = await whip(srv.url);
    peers.push(publisher);
    assert.equal(res.status, 201, answer);
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    const streamId = res.headers.get('x-stream-id')!;
    assert.match(streamId, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `/whip/invert/${streamId}`);
    assert.match(res.headers.get('link')!, new RegExp(`/api/streams/${streamId}>; rel="describedby"`));
    await publisher.acceptAnswer(answer);
    await publisher.connected();
    sender = pump(publisher, encodeFrames({ codec: 'h264', width: 320, height: 240, count: 60, forceKeyframes: [30] }));

    // Nobody watching yet: the model stays idle.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(srv.app.health().modelRuns, 0);

    const a = await whep(srv.url, streamId);
    const b = await whep(srv.url, streamId);
    peers.push(a.viewer, b.viewer);
    assert.equal(a.res.status, 201);
    assert.equal(b.res.status, 201);
    assert.match(a.res.headers.get('location')!, new RegExp(`^/whep/${streamId}/[0-9a-f-]{36}$`));

    // A third viewer is over the limit of two.
    const c = await whep(srv.url, streamId);
    peers.push(c.viewer);
    assert.equal(c.res.status, 503);
    assert.equal(c.res.headers.get('retry-after'), '10');
    assert.equal((await errorOf(c.res)).code, 'VIEWER_LIMIT');

    assert.ok(await waitFor(() => a.viewer.received.length >= 10 && b.viewer.received.length >= 10, 15_000), `viewers got ${a.viewer.received.length} / ${b.viewer.received.length} frames`);
    // Each viewer's first frame is a key frame: it joined at one.
    assert.equal(a.viewer.received[0]!.keyframe, true);
    assert.equal(b.viewer.received[0]!.keyframe, true);

    // With tokens configured, the list of every stream is for operators.
    const list = (await (await fetch(`${srv.url}/api/streams`, { headers: { authorization: `Bearer ${OPERATOR}` } })).json()) as { streams: StreamSummary[] };
    assert.equal(list.streams.length, 1);
    const s = list.streams[0]!;
    assert.equal(s.id, streamId);
    assert.equal(s.source, 'whip');
    assert.equal(s.viewers, 2);
    assert.equal(s.codec, 'h264');
    // One model run per encoded frame, and every run counted by the host is this stream's.
    assert.ok(s.modelRuns > 0);
    assert.ok(Math.abs(s.framesEncoded - s.modelRuns) <= 2, `runs ${s.modelRuns}, encoded ${s.framesEncoded}`);
    const hostRuns = srv.app.health().modelRuns;
    assert.ok(hostRuns >= s.modelRuns && hostRuns <= s.modelRuns + 2, `host ${hostRuns}, stream ${s.modelRuns}`);
    const delivered = a.viewer.received.length + b.viewer.received.length;
    assert.ok(delivered > s.modelRuns, `${delivered} frames delivered from ${s.modelRuns} model runs`);
    t.diagnostic(`model runs ${s.modelRuns}, encoded ${s.framesEncoded}, delivered ${delivered}`);

    // Viewer A leaves; B keeps receiving.
    const del = await fetch(`${srv.url}${a.res.headers.get('location')}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    const bBefore = b.viewer.received.length;
    assert.ok(await waitFor(() => b.viewer.received.length >= bBefore + 15, 10_000), 'viewer B stalled after A left');
    const one = (await (await fetch(`${srv.url}/api/streams/${streamId}`)).json()) as StreamSummary;
    assert.equal(one.viewers, 1);

    // The publisher ends the stream with DELETE on its Location.
    const end = await fetch(`${srv.url}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(end.status, 200);
    assert.equal((await fetch(`${srv.url}/api/streams/${streamId}`)).status, 404);
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openCodecs, h.openModelSessions, h.openPeers], [0, 0, 0, 0]);
  } finally {
    await sender?.stop();
    for (const p of peers) await p.close();
    await srv.close();
  }
});

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

/** Reads server-sent events until `until` returns true or the stream ends. */
async function readEvents(url: string, until: (events: { event: string; data: string }[]) => boolean, timeoutMs: number) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const events: { event: string; data: string }[] = [];
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const decoder = new TextDecoder();
    let buf = '';
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data });
      }
      if (until(events)) break;
    }
  } catch (err) {
    if (!ctrl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  return events;
}

test('a publisher that vanishes: viewers hear "offline" within the idle timeout, and everything is freed', { timeout: 60_000 }, async (t) => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], idleTimeoutMs: 2000 });
  const peers: BrowserPeer[] = [];
  try {
    const { publisher, res, answer } = await whip(srv.url);
    peers.push(publisher);
    const id = res.headers.get('x-stream-id')!;
    await publisher.acceptAnswer(answer);
    await publisher.connected();
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 20 });
    const sender = pump(publisher, frames);
    const v = await whep(srv.url, id);
    peers.push(v.viewer);
    assert.ok(await waitFor(() => v.viewer.received.length >= 3, 10_000));

    const events = readEvents(`${srv.url}/api/streams/${id}/events`, (e) => e.some((x) => x.event === 'offline'), 15_000);
    await new Promise((r) => setTimeout(r, 300));
    // The publisher goes silent without a goodbye (its network died).
    await sender.stop();
    const stoppedAt = Date.now();
    const got = await events;
    const offlineAfterMs = Date.now() - stoppedAt;
    t.diagnostic(`offline ${offlineAfterMs} ms after the publisher went silent (idle timeout 2000 ms)`);
    assert.deepEqual(JSON.parse(got[0]!.data), { state: 'live', viewers: 1 });
    assert.equal(got.at(-1)!.event, 'offline');
    assert.ok(offlineAfterMs < 5000);
    assert.equal((await fetch(`${srv.url}/api/streams/${id}`)).status, 404);
    const h = srv.app.health();
    // The viewer's peer connection went with the stream.
    assert.deepEqual([h.sessions, h.openCodecs, h.openModelSessions, h.openPeers], [0, 0, 0, 0]);
    assert.equal((await post(`${srv.url}/whep/${id}`, browserOffer({ video: [VP8], videoDirection: 'recvonly' }), { 'content-type': 'application/sdp' })).status, 404);
  } finally {
    for (const p of peers) await p.close();
    await srv.close();
  }
});

/**
 * The shape of OBS Studio's WHIP offer (libdatachannel): ICE and DTLS attributes at session
 * level, audio first, H.264 42e01f, sendonly, a=ssrc lines. Hand-written from that shape (not
 * captured), so its ICE credentials and candidate are placeholders and it never connects.
 */
const OBS_STYLE_OFFER = [
  'v=0',
  'o=rtc 3167374271 0 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=group:LS 0 1',
  'a=msid-semantic:WMS *',
  'a=setup:actpass',
  'a=ice-ufrag:Xk3q',
  'a=ice-pwd:u1bXv3mBcNn0r7sQk2WjYp',
  'a=ice-options:ice2,trickle',
  'a=fingerprint:sha-256 4A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendonly',
  'a=ssrc:1359198387 cname:obs-cname',
  'a=ssrc:1359198387 msid:obs-stream obs-audio',
  'a=msid:obs-stream obs-audio',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;maxaveragebitrate=96000;stereo=1;sprop-stereo=1;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=mid:1',
  'a=sendonly',
  'a=ssrc:2779281201 cname:obs-cname',
  'a=ssrc:2779281201 msid:obs-stream obs-video',
  'a=msid:obs-stream obs-video',
  'a=rtcp-mux',
  'a=rtpmap:96 H264/90000',
  'a=rtcp-fb:96 nack',
  'a=rtcp-fb:96 nack pli',
  'a=rtcp-fb:96 goog-remb',
  'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1;level-asymmetry-allowed=1',
  'a=candidate:1 1 UDP 2122317823 127.0.0.1 9 typ host',
  'a=end-of-candidates',
  '',
].join('\r\n');

test('an OBS-style WHIP offer (session-level ICE/DTLS, audio + H.264) is answered: video recvonly, audio inactive', { timeout: 30_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN] });
  try {
    const res = await post(`${srv.url}/whip/invert`, OBS_STYLE_OFFER, { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` });
    const answer = await res.text();
    assert.equal(res.status, 201, answer);
    const sections = answer.split(/\r\nm=/);
    const video = sections.find((s) => s.startsWith('video'))!;
    const audio = sections.find((s) => s.startsWith('audio'))!;
    assert.match(video, /^video \d+ UDP\/TLS\/RTP\/SAVPF 96\r\n/);
    assert.match(video, /a=recvonly/);
    assert.match(video, /a=rtpmap:96 H264\/90000/);
    assert.match(audio, /a=inactive|^audio 0 /);
    const end = await fetch(`${srv.url}${res.headers.get('location')}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(end.status, 200);
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openPeers, h.openModelSessions], [0, 0, 0]);
  } finally {
    await srv.close();
  }
});

test('two streams of one model with BATCH_ACROSS_STREAMS=on share one session and both play', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN], batchAcrossStreams: 'on' });
  const peers: BrowserPeer[] = [];
  const senders: { stop(): Promise<void> }[] = [];
  try {
    const frames = encodeFrames({ codec: 'h264', width: 320, height: 240, count: 30 });
    const viewers: BrowserPeer[] = [];
    const ends: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { publisher, res, answer } = await whip(srv.url);
      peers.push(publisher);
      assert.equal(res.status, 201, answer);
      await publisher.acceptAnswer(answer);
      await publisher.connected();
      senders.push(pump(publisher, frames));
      const v = await whep(srv.url, res.headers.get('x-stream-id')!);
      peers.push(v.viewer);
      viewers.push(v.viewer);
      ends.push(res.headers.get('location')!);
    }
    assert.ok(await waitFor(() => viewers.every((v) => v.received.length >= 10), 15_000), `viewers got ${viewers.map((v) => v.received.length).join(' / ')} frames`);
    // Two generator handles, one batched session behind them.
    assert.equal(srv.app.health().openModelSessions, 2);
    for (const end of ends) await fetch(`${srv.url}${end}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    const h = srv.app.health();
    assert.deepEqual([h.sessions, h.openModelSessions, h.openPeers], [0, 0, 0]);
  } finally {
    for (const s of senders) await s.stop();
    for (const p of peers) await p.close();
    await srv.close();
  }
});
