/**
 * Browser-style offers for the SDP tests, modelled on what headless Chromium sends (stack-notes:
 * VP8, VP9, H264 42e01f packetization-mode 1, AV1, each with RTX; BUNDLE; a=ssrc lines).
 * Hand-written from that shape, not captured, so ICE/DTLS values are placeholders.
 */
export interface OfferCodec {
  pt: number;
  name: string;
  fmtp?: string;
  rtxPt?: number;
}

export const VP8: OfferCodec = { pt: 96, name: 'VP8', rtxPt: 97 };
export const VP9: OfferCodec = { pt: 98, name: 'VP9', fmtp: 'profile-id=0', rtxPt: 99 };
export const H264_42001F_PM1: OfferCodec = {
  pt: 102,
  name: 'H264',
  fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f',
  rtxPt: 103,
};
export const H264_42E01F_PM0: OfferCodec = {
  pt: 104,
  name: 'H264',
  fmtp: 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f',
  rtxPt: 105,
};
export const H264_42E01F_PM1: OfferCodec = {
  pt: 106,
  name: 'H264',
  fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  rtxPt: 107,
};
export const AV1: OfferCodec = { pt: 45, name: 'AV1', fmtp: 'level-idx=5;profile=0;tier=0', rtxPt: 46 };

export function browserOffer(options: {
  video?: OfferCodec[];
  audio?: boolean;
  videoDirection?: string;
}): string {
  const video = options.video ?? [VP8, VP9, H264_42001F_PM1, H264_42E01F_PM0, H264_42E01F_PM1, AV1];
  const mids: string[] = [];
  const sections: string[][] = [];
  const transport = [
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=ice-ufrag:AbCd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
    'a=setup:actpass',
  ];
  if (options.audio) {
    mids.push('0');
    sections.push([
      'm=audio 9 UDP/TLS/RTP/SAVPF 111 0',
      ...transport,
      'a=mid:0',
      'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'a=sendrecv',
      'a=msid:stream audio-track',
      'a=rtcp-mux',
      'a=rtpmap:111 opus/48000/2',
      'a=rtcp-fb:111 transport-cc',
      'a=fmtp:111 minptime=10;useinbandfec=1',
      'a=rtpmap:0 PCMU/8000',
      'a=ssrc:1111 cname:browsercname',
    ]);
  }
  const mid = String(mids.length);
  mids.push(mid);
  const pts = video.flatMap((c) => (c.rtxPt ? [c.pt, c.rtxPt] : [c.pt]));
  const codecLines = video.flatMap((c) => [
    `a=rtpmap:${c.pt} ${c.name}/90000`,
    'goog-remb',
    'transport-cc',
    'ccm fir',
    'nack',
    'nack pli',
  ]
    .map((l, i) => (i === 0 ? l : `a=rtcp-fb:${c.pt} ${l}`))
    .concat(c.fmtp ? [`a=fmtp:${c.pt} ${c.fmtp}`] : [])
    .concat(c.rtxPt ? [`a=rtpmap:${c.rtxPt} rtx/90000`, `a=fmtp:${c.rtxPt} apt=${c.pt}`] : []));
  sections.push([
    `m=video 9 UDP/TLS/RTP/SAVPF ${pts.join(' ')}`,
    ...transport,
    `a=mid:${mid}`,
    'a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    `a=${options.videoDirection ?? 'sendrecv'}`,
    'a=msid:stream video-track',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    ...codecLines,
    'a=ssrc-group:FID 2222 3333',
    'a=ssrc:2222 cname:browsercname',
    'a=ssrc:2222 msid:stream video-track',
    'a=ssrc:3333 cname:browsercname',
    'a=ssrc:3333 msid:stream video-track',
  ]);
  return (
    [
      'v=0',
      'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
      's=-',
      't=0 0',
      `a=group:BUNDLE ${mids.join(' ')}`,
      'a=extmap-allow-mixed',
      'a=msid-semantic: WMS stream',
      ...sections.flat(),
    ].join('\r\n') + '\r\n'
  );
}
