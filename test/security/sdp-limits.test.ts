/**
 * Issue 12 §3, SDP. Class: an SDP offer or ICE input (socket.io session:start and session:ice,
 * WHIP POST and PATCH, WHEP POST) that is too big, or cheap to send and costly to handle: many
 * media sections, formats, fmtp/rtpmap lines, candidates, huge lines, input aimed at regexes.
 * Each is refused with SDP_LIMIT (413 over HTTP) naming the config key, before any parser or
 * model runs, while a live session next to it keeps receiving frames.
 *
 * A 66 kB offer once stalled the server for 10 s. Measured on this machine before the fix:
 * offeredCodecs() searched every line once per format, 0.9-1.4 s for a 100 kB offer of 11000
 * formats and 3300 lines; werift's parser took 30-60 ms on the same offers; 70 unbundled video
 * sections cost werift 5 s of ICE gathering per offer. The caps keep all of that out.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SDP_LIMITS, checkSdpLimits, inspectOffer } from '../../server/webrtc/index.js';
import { CycleStreamError, SdpLimitError } from '../../server/shared/errors.js';
import { connect, startTestApp, waitFor } from '../helpers/app.js';
import { browserOffer, VP8 } from '../server/webrtc/offers.js';
import { BrowserPeer } from '../server/webrtc/browser-peer.js';
import { keepsReceiving, liveSession, start } from './helpers.js';

const base = browserOffer({ video: [VP8], audio: true });
const rep = (n: number, line: (i: number) => string) => Array.from({ length: n }, (_, i) => line(i)).join('\r\n');

/** One hostile offer per shape, each just over one cap, and the key its refusal must name. */
function hostileOffers(): { name: string; sdp: string; key: string }[] {
  const [head, ...sections] = base.trimEnd().split(/\r\n(?=m=)/);
  const video = sections.find((s) => s.startsWith('m=video'))!;
  return [
    { name: 'larger than MAX_SDP_BYTES', sdp: base + rep(2000, (i) => `a=x-padding:${i}`.padEnd(20, '.')), key: 'MAX_SDP_BYTES' },
    { name: 'multi-byte characters over MAX_SDP_BYTES', sdp: base.replace('s=-', `s=${'€'.repeat(12_000)}`), key: 'MAX_SDP_BYTES' },
    { name: 'many media sections', sdp: [head, ...sections, ...rep(8, () => video).split('\r\n')].join('\r\n') + '\r\n', key: 'MAX_SDP_MEDIA_SECTIONS' },
    {
      name: 'many formats in one section',
      sdp: base.replace(/^m=video 9 UDP\/TLS\/RTP\/SAVPF [\d ]+$/m, `m=video 9 UDP/TLS/RTP/SAVPF ${rep(65, (i) => String(i % 128)).replace(/\r\n/g, ' ')}`),
      key: 'MAX_SDP_FORMATS_PER_SECTION',
    },
    { name: 'many fmtp and rtpmap lines', sdp: base.trimEnd() + '\r\n' + rep(1000, (i) => (i % 2 ? `a=fmtp:96 x=${i}` : `a=rtpmap:${i % 128} VP8/90000`)) + '\r\n', key: 'MAX_SDP_ATTRIBUTE_LINES' },
    { name: 'a huge candidate line', sdp: base.trimEnd() + `\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host ${'x'.repeat(5000)}\r\n`, key: 'MAX_SDP_LINE_BYTES' },
    { name: 'many candidates', sdp: base.trimEnd() + '\r\n' + rep(65, (i) => `a=candidate:${i} 1 udp ${2122260223 - i} 127.0.0.1 ${40000 + i} typ host`) + '\r\n', key: 'MAX_ICE_CANDIDATES_PER_SESSION' },
  ];
}

describe('checkSdpLimits', () => {
  it('passes browser-shaped offers', () => {
    const counts = checkSdpLimits(base, DEFAULT_SDP_LIMITS);
    assert.equal(counts.mediaSections, 2);
    assert.ok(counts.attributeLines > 20);
    assert.equal(inspectOffer(base, 'vp8').codec, 'vp8');
  });

  for (const { name, sdp, key } of hostileOffers()) {
    it(`refuses an offer with ${name}, naming ${key}`, () => {
      assert.throws(() => inspectOffer(sdp, 'vp8'), (err: unknown) => {
        assert.ok(err instanceof SdpLimitError, String(err));
        assert.equal(err.status, 413);
        assert.match(err.message, new RegExp(key));
        return true;
      });
    });
  }

  it('counts trickled candidates against the same cap', () => {
    const frag = rep(4, (i) => `a=candidate:${i} 1 udp 1 127.0.0.1 ${40000 + i} typ host`);
    assert.equal(checkSdpLimits(frag, DEFAULT_SDP_LIMITS, 'ICE fragment', 60).candidates, 4);
    assert.throws(() => checkSdpLimits(frag, DEFAULT_SDP_LIMITS, 'ICE fragment', 61), /ICE fragment has more ICE candidates \(61 before it\)/);
  });

  it('handles input aimed at regexes, within the caps, with typed errors', () => {
    const within = [
      base.replace(/^m=video .*$/m, `m=video ${' '.repeat(3000)}9`),
      base.replace('a=rtpmap:96 VP8/90000', `a=rtpmap:96 ${'/'.repeat(4000)}`),
      base.replace('a=rtpmap:96 VP8/90000', `a=rtpmap:96 VP8/${'9'.repeat(4000)}`),
      base.replace(/^m=video \S+/m, `m=video ${'1'.repeat(4000)}`),
      `v=0\r\n${'a'.repeat(4000)}\r\n`,
      base.replace('a=fmtp:96', `a=fmtp:96 ${';='.repeat(2000)}`),
    ];
    for (const sdp of within) {
      try {
        inspectOffer(sdp, 'vp8');
      } catch (err) {
        assert.ok(err instanceof CycleStreamError, `a typed error, got ${String(err)}`);
      }
    }
  });

  it('finds the codec in an offer at the caps (64 formats, ~1000 lines), rtpmap last', () => {
    const formats = rep(63, (i) => String(i)).replace(/\r\n/g, ' ');
    const sdp = base
      .replace(/^m=video 9 UDP\/TLS\/RTP\/SAVPF [\d ]+$/m, `m=video 9 UDP/TLS/RTP/SAVPF ${formats} 96`)
      .replace('a=rtpmap:96 VP8/90000', rep(900, (i) => `a=rtcp-fb:${i % 63} nack`) + '\r\na=rtpmap:96 VP8/90000');
    const offer = inspectOffer(sdp, 'vp8');
    assert.equal(offer.payloadType, 96);
  });
});

test('hostile offers and ICE input on every path are refused before any model loads; a live session beside them keeps receiving', { timeout: 120_000 }, async () => {
  const TOKEN = 'ingest-token-sdp-tests';
  // Candidates go out in one burst here; the per-socket event rate has its own test.
  const srv = await startTestApp({ ingestTokens: [TOKEN], maxSocketEventsPerS: 1000 });
  const live = await liveSession(srv.url, { codec: 'h264' });
  const other = await connect(srv.url);
  const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
  try {
    assert.ok(await keepsReceiving(live, 5), 'the live session is up');
    const modelSessions = () => srv.app.health().openModelSessions;
    assert.equal(modelSessions(), 1);

    const whipAuth = { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` };
    for (let round = 0; round < 3; round++) {
      for (const { name, sdp, key } of hostileOffers()) {
        const viaSocket = await start(other, { offerSdp: sdp, modelId: 'invert' });
        // The socket contract caps offers at 100000 characters; all of these are under that.
        assert.equal(viaSocket.ok, false, name);
        assert.equal(!viaSocket.ok && viaSocket.error.code, 'SDP_LIMIT', name);
        assert.match(!viaSocket.ok ? viaSocket.error.message : '', new RegExp(key));

        const viaWhip = await fetch(`${srv.url}/whip/invert`, { method: 'POST', body: sdp, headers: whipAuth });
        assert.equal(viaWhip.status, 413, `WHIP: ${name}`);
        const whipError = ((await viaWhip.json()) as { error: { code: string } }).error;
        assert.ok(['SDP_LIMIT', 'PAYLOAD_TOO_LARGE'].includes(whipError.code), whipError.code);

        const viewerSdp = sdp.replace(/a=sendrecv/g, 'a=recvonly');
        const viaWhep = await fetch(`${srv.url}/whep/${live.info.sessionId}`, { method: 'POST', body: viewerSdp, headers: { 'content-type': 'application/sdp' } });
        assert.equal(viaWhep.status, 413, `WHEP: ${name}`);
        assert.equal(modelSessions(), 1, `no model was loaded for a refused offer (${name})`);
      }
    }
    assert.ok(await keepsReceiving(live, 10), 'the live session kept receiving frames through the hostile offers');

    // session:ice past the session's cap: the offer's candidates and these count together.
    for (let i = 0; i < DEFAULT_SDP_LIMITS.maxCandidates + 2; i++) {
      live.socket.emit('session:ice', { candidate: `candidate:${i} 1 udp ${2122260223 - i} 127.0.0.1 ${41000 + i} typ host`, sdpMid: '0', sdpMLineIndex: 0 });
    }
    assert.ok(await waitFor(() => live.errors.some((e) => e.code === 'SDP_LIMIT' && /MAX_ICE_CANDIDATES_PER_SESSION/.test(e.message)), 10_000), JSON.stringify(live.errors));

    // WHIP PATCH: a fragment over the caps, then candidates over the session's cap.
    const pub = await fetch(`${srv.url}/whip/invert`, { method: 'POST', body: await publisher.createOffer(), headers: whipAuth });
    assert.equal(pub.status, 201);
    const resource = `${srv.url}${pub.headers.get('location')}`;
    const patch = (body: string) => fetch(resource, { method: 'PATCH', body, headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: `Bearer ${TOKEN}` } });
    const candidates = (n: number, from: number) => rep(n, (i) => `a=candidate:${from + i} 1 udp 1 127.0.0.1 ${42000 + from + i} typ host`);
    assert.equal((await patch(`a=mid:0\r\n${candidates(65, 0)}\r\n`)).status, 413, 'a fragment with more candidates than the cap');
    assert.equal((await patch(`a=mid:0\r\n${'a=x'.padEnd(40_000, 'x')}\r\n`)).status, 413, 'a fragment over MAX_SDP_BYTES');
    assert.equal((await patch(`a=mid:0\r\n${candidates(30, 100)}\r\n`)).status, 204);
    const over = await patch(`a=mid:0\r\n${candidates(40, 200)}\r\n`);
    assert.equal(over.status, 413, 'the session is past its cap');
    assert.match(((await over.json()) as { error: { message: string } }).error.message, /MAX_ICE_CANDIDATES_PER_SESSION/);

    assert.ok(await keepsReceiving(live, 10), 'still receiving');
  } finally {
    other.disconnect();
    await publisher.close();
    await live.close();
    await srv.close();
  }
});
