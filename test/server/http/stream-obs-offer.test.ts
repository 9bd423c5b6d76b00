/**
 * WHIP ingest from an encoder other than a browser: OBS Studio's offer shape is answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp } from '../../helpers/app.js';
import { TOKEN, post } from './stream-helpers.js';

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
