import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, NoVideoError, SdpError, UnsupportedCodecError } from '../../../server/shared/errors.js';
import { createPeerSession } from '../../../server/webrtc/index.js';
import { inspectOffer, inspectViewerOffer } from '../../../server/webrtc/sdp.js';
import { addBitrateHints, dropRejectedFromBundle } from '../../../server/webrtc/sdp-answer.js';
import { AV1, H264_42001F_PM1, H264_42E01F_PM0, H264_42E01F_PM1, VP8, VP9, browserOffer } from './offers.js';

const PUBLISHER = { preferCodec: 'vp8', idleTimeoutMs: 0 } as const;

function videoSection(sdp: string): string[] {
  const lines = sdp.split('\r\n');
  const start = lines.findIndex((l) => l.startsWith('m=video'));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('m='));
  return lines.slice(start, end < 0 ? undefined : end);
}

const udpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;

describe('offer validation', () => {
  const malformed: [string, unknown][] = [
    ['empty string', ''],
    ['not a string', 42],
    ['plain text', 'hello, I am not SDP'],
    ['no v=0 first', browserOffer({}).replace('v=0\r\n', '')],
    ['a line without type=value', browserOffer({}).replace('s=-', 's=-\r\nthis line is junk')],
    ['a broken m= line', browserOffer({}).replace(/m=video 9 [^\r]*/, 'm=video nine UDP/TLS/RTP/SAVPF 96')],
    ['payload types that are not numbers', browserOffer({}).replace(/m=video 9 UDP\/TLS\/RTP\/SAVPF /, 'm=video 9 UDP/TLS/RTP/SAVPF vp8 ')],
    ['no ICE credentials', browserOffer({}).replace(/a=ice-ufrag:[^\r]*\r\n/g, '')],
    ['no DTLS fingerprint', browserOffer({}).replace(/a=fingerprint:[^\r]*\r\n/g, '')],
    ['a malformed rtpmap', browserOffer({ video: [VP8] }).replace('a=rtpmap:96 VP8/90000', 'a=rtpmap:96 VP8')],
    ['a video section without a=ssrc', browserOffer({ video: [VP8] }).replace(/a=ssrc[^\r]*\r\n/g, '')],
  ];
  for (const [name, sdp] of malformed) {
    it(`rejects ${name} with SdpError`, () => {
      assert.throws(() => inspectOffer(sdp, 'vp8'), (err: unknown) => {
        assert.ok(err instanceof SdpError, `got ${String(err)}`);
        assert.equal(err.code, 'SDP_MALFORMED');
        assert.ok(err.message.length > 10, 'says why');
        return true;
      });
    });
  }

  it('rejects an audio-only offer with NoVideoError', () => {
    const audioOnly = browserOffer({ audio: true }).split('m=video')[0]!;
    assert.throws(() => inspectOffer(audioOnly, 'vp8'), NoVideoError);
  });

  it('rejects video the browser does not send (recvonly, inactive, port 0) with NoVideoError', () => {
    assert.throws(() => inspectOffer(browserOffer({ videoDirection: 'recvonly' }), 'vp8'), NoVideoError);
    assert.throws(() => inspectOffer(browserOffer({ videoDirection: 'inactive' }), 'vp8'), NoVideoError);
    assert.throws(() => inspectOffer(browserOffer({}).replace('m=video 9 ', 'm=video 0 '), 'vp8'), NoVideoError);
  });

  it('rejects a VP9-only offer with UnsupportedCodecError naming what was offered', () => {
    assert.throws(() => inspectOffer(browserOffer({ video: [VP9] }), 'vp8'), (err: unknown) => {
      assert.ok(err instanceof UnsupportedCodecError);
      assert.equal(err.code, 'UNSUPPORTED_CODEC');
      assert.match(err.message, /VP9/);
      assert.doesNotMatch(err.message, /RTX/);
      return true;
    });
  });

  it('rejects VP9 + AV1 + H.264 packetization-mode 0 with UnsupportedCodecError', () => {
    assert.throws(() => inspectOffer(browserOffer({ video: [VP9, AV1, H264_42E01F_PM0] }), 'vp8'), UnsupportedCodecError);
  });

  it('createPeerSession rejects with the same errors and opens no sockets', async () => {
    const before = udpSockets();
    await assert.rejects(createPeerSession({ ...PUBLISHER, offerSdp: 'nonsense' }), SdpError);
    await assert.rejects(createPeerSession({ ...PUBLISHER, offerSdp: browserOffer({ audio: true }).split('m=video')[0]! }), NoVideoError);
    await assert.rejects(createPeerSession({ ...PUBLISHER, offerSdp: browserOffer({ video: [VP9] }) }), UnsupportedCodecError);
    await assert.rejects(
      createPeerSession({ ...PUBLISHER, offerSdp: browserOffer({}), browserBitrateKbps: { min: 900, start: 500, max: 2000 } }),
      ConfigError,
    );
    await assert.rejects(createPeerSession({ ...PUBLISHER, offerSdp: browserOffer({}), iceServers: [{ urls: 'http://x' }] }), ConfigError);
    // Passes our checks, but werift finds no codec for the audio section: the peer connection it
    // already made is closed again.
    const g722Audio = browserOffer({ audio: true })
      .replace('m=audio 9 UDP/TLS/RTP/SAVPF 111 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 9')
      .replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:9 G722/8000')
      .replace(/a=(rtcp-fb|fmtp):111 [^\r]*\r\n/g, '')
      .replace('a=rtpmap:0 PCMU/8000\r\n', '');
    await assert.rejects(createPeerSession({ ...PUBLISHER, offerSdp: g722Audio }), (err: unknown) => {
      assert.ok(err instanceof SdpError);
      assert.match(err.message, /negotiation failed/);
      return true;
    });
    assert.equal(udpSockets(), before);
  });
});

describe('codec choice', () => {
  it('prefers VP8 by default and cuts the video section down to it', () => {
    const offer = inspectOffer(browserOffer({ audio: true }), 'vp8');
    assert.equal(offer.codec, 'vp8');
    assert.equal(offer.payloadType, 96);
    assert.equal(offer.mid, '1');
    assert.equal(offer.mLineIndex, 1);
    const video = videoSection(offer.restrictedSdp);
    assert.equal(video[0], 'm=video 9 UDP/TLS/RTP/SAVPF 96');
    assert.deepEqual(
      video.filter((l) => /^a=(rtpmap|fmtp|rtcp-fb):/.test(l)).map((l) => l.split(/[: ]/)[1]),
      ['96', '96', '96', '96', '96', '96'],
    );
    assert.ok(!video.some((l) => l.startsWith('a=ssrc-group:FID')));
    assert.ok(video.includes('a=ssrc:2222 cname:browsercname'));
    assert.ok(offer.restrictedSdp.includes('m=audio 9 UDP/TLS/RTP/SAVPF 111 0'), 'other sections untouched');
  });

  it('picks H.264 42e01f packetization-mode 1 when preferred', () => {
    const offer = inspectOffer(browserOffer({}), 'h264');
    assert.equal(offer.codec, 'h264');
    assert.equal(offer.payloadType, H264_42E01F_PM1.pt);
    assert.equal(videoSection(offer.restrictedSdp)[0], `m=video 9 UDP/TLS/RTP/SAVPF ${H264_42E01F_PM1.pt}`);
  });

  it('falls back to the other supported codec', () => {
    assert.equal(inspectOffer(browserOffer({ video: [VP9, H264_42001F_PM1] }), 'vp8').codec, 'h264');
    assert.equal(inspectOffer(browserOffer({ video: [AV1, VP8] }), 'h264').codec, 'vp8');
  });
});

describe('bitrate hints on the answer', () => {
  const answer = [
    'v=0',
    'o=- 1 0 IN IP4 0.0.0.0',
    's=-',
    't=0 0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 96',
    'a=rtpmap:96 opus/48000/2',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=mid:1',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 nack',
    'm=video 9 UDP/TLS/RTP/SAVPF 106',
    'a=rtpmap:106 H264/90000',
    'a=fmtp:106 packetization-mode=1;profile-level-id=42e01f;x-google-max-bitrate=1',
    '',
  ].join('\r\n');
  const kbps = { min: 300, start: 1200, max: 2500 };

  it('adds an fmtp line after the rtpmap when the codec has none, in the right section', () => {
    const out = addBitrateHints(answer, 1, 96, kbps).split('\r\n');
    const i = out.indexOf('a=rtpmap:96 VP8/90000');
    assert.equal(out[i + 1], 'a=fmtp:96 x-google-start-bitrate=1200;x-google-min-bitrate=300;x-google-max-bitrate=2500');
    assert.equal(out.filter((l) => l.startsWith('a=fmtp:96')).length, 1, 'the audio section is left alone');
  });

  it('appends to an existing fmtp line, replacing old hints', () => {
    const out = addBitrateHints(answer, 2, 106, kbps).split('\r\n');
    assert.ok(
      out.includes(
        'a=fmtp:106 packetization-mode=1;profile-level-id=42e01f;x-google-start-bitrate=1200;x-google-min-bitrate=300;x-google-max-bitrate=2500',
      ),
    );
  });
});

describe('BUNDLE group of the answer', () => {
  it('leaves out the mids of rejected (port 0) sections', () => {
    const answer = [
      'v=0',
      'a=group:BUNDLE 0 1 2',
      'm=audio 0 UDP/TLS/RTP/SAVPF 111',
      'a=mid:0',
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'a=mid:1',
      'm=video 0 UDP/TLS/RTP/SAVPF 96',
      'a=mid:2',
      '',
    ].join('\r\n');
    assert.ok(dropRejectedFromBundle(answer).split('\r\n').includes('a=group:BUNDLE 1'));
    const untouched = answer.replace('m=audio 0', 'm=audio 9').replace('m=video 0', 'm=video 9');
    assert.equal(dropRejectedFromBundle(untouched), untouched);
  });
});

// inspectViewerOffer (WHEP): a video section the viewer receives, offering the one codec the
// stream is already encoded in; a=ssrc is not needed since nothing is received from a viewer.
describe('viewer offers', () => {
  it('accepts a recvonly offer and picks the stream codec', () => {
    const offer = inspectViewerOffer(browserOffer({ audio: true, videoDirection: 'recvonly' }), 'vp8');
    assert.equal(offer.codec, 'vp8');
    assert.equal(offer.payloadType, VP8.pt);
    assert.equal(offer.direction, 'recvonly');
    assert.equal(offer.mLineIndex, 1);
    assert.equal(videoSection(offer.restrictedSdp)[0], `m=video 9 UDP/TLS/RTP/SAVPF ${VP8.pt}`);
  });

  it('accepts sendrecv, and picks H.264 packetization-mode 1 for an H.264 stream over VP8', () => {
    const offer = inspectViewerOffer(browserOffer({ videoDirection: 'sendrecv' }), 'h264');
    assert.equal(offer.codec, 'h264');
    assert.equal(offer.payloadType, H264_42E01F_PM1.pt);
    assert.equal(offer.direction, 'sendrecv');
    assert.equal(inspectViewerOffer(browserOffer({ video: [H264_42E01F_PM0, H264_42001F_PM1] }), 'h264').payloadType, H264_42001F_PM1.pt);
  });

  it('rejects video the viewer does not receive with NoVideoError', () => {
    for (const direction of ['sendonly', 'inactive']) {
      assert.throws(() => inspectViewerOffer(browserOffer({ videoDirection: direction }), 'vp8'), (err: unknown) => {
        assert.ok(err instanceof NoVideoError, direction);
        assert.match(err.message, /recvonly\/sendrecv/);
        return true;
      });
    }
    const audioOnly = browserOffer({ audio: true }).split('m=video')[0]!;
    assert.throws(() => inspectViewerOffer(audioOnly, 'vp8'), NoVideoError);
  });

  it('rejects an offer without the stream codec with UnsupportedCodecError naming it', () => {
    assert.throws(() => inspectViewerOffer(browserOffer({ video: [VP8, VP9], videoDirection: 'recvonly' }), 'h264'), (err: unknown) => {
      assert.ok(err instanceof UnsupportedCodecError);
      assert.match(err.message, /\(VP8, VP9\) do not include H264 with packetization-mode=1, the codec this stream is encoded in/);
      return true;
    });
    assert.throws(() => inspectViewerOffer(browserOffer({ video: [H264_42E01F_PM0], videoDirection: 'recvonly' }), 'h264'), UnsupportedCodecError);
    assert.throws(() => inspectViewerOffer(browserOffer({ video: [H264_42E01F_PM1, AV1], videoDirection: 'recvonly' }), 'vp8'), (err: unknown) => {
      assert.ok(err instanceof UnsupportedCodecError);
      assert.match(err.message, /do not include VP8, the codec/);
      return true;
    });
  });

  it('does not need a=ssrc lines', () => {
    const noSsrc = browserOffer({ video: [VP8], videoDirection: 'recvonly' }).replace(/a=ssrc[^\r]*\r\n/g, '');
    assert.ok(!noSsrc.includes('a=ssrc'));
    assert.equal(inspectViewerOffer(noSsrc, 'vp8').codec, 'vp8');
  });

  it('still rejects malformed SDP with SdpError', () => {
    assert.throws(() => inspectViewerOffer('not sdp', 'vp8'), SdpError);
  });
});
