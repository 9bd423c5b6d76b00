import { NoVideoError, SdpError, UnsupportedCodecError } from '../shared/errors.js';
import type { VideoCodecName } from './rtp-util.js';
import { DEFAULT_SDP_LIMITS, checkSdpLimits, type SdpLimits } from './sdp-limits.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

interface MediaSection {
  kind: string;
  port: number;
  formats: string[];
  /** Lines of the section, the m= line first. */
  lines: string[];
}

interface ParsedSdp {
  session: string[];
  media: MediaSection[];
  /** a=candidate lines in the whole offer. */
  candidates: number;
}

export interface OfferedCodec {
  payloadType: number;
  /** Upper-case encoding name from a=rtpmap (VP8, H264, VP9, AV1, rtx, ...). */
  name: string;
  clockRate: number;
  fmtp: string;
}

export interface ChosenVideo {
  codec: VideoCodecName;
  payloadType: number;
  /** a=mid of the chosen video section, when the offer has one. */
  mid: string | undefined;
  /** Index of the chosen video section among the offer's m= sections. */
  mLineIndex: number;
  fmtp: string;
  /** The offerer's direction for that section. */
  direction: Direction;
}

export interface InspectedOffer extends ChosenVideo {
  /**
   * The offer with the chosen video section cut down to the chosen payload type: werift matches
   * codecs by MIME type only (it would take every H264 profile, packetization-mode=0 included, and
   * RTX/RED), and browsers send with the first codec of the answer.
   */
  restrictedSdp: string;
  /** ICE candidates in the offer; trickled ones count against the same limit. */
  candidates: number;
}

/** Checks the limits first, so everything after runs on a bounded offer; linear in its size. */
function parseSdp(sdp: unknown, limits: SdpLimits): ParsedSdp {
  if (typeof sdp !== 'string' || sdp.trim().length === 0) throw new SdpError('offer SDP is empty');
  const { candidates } = checkSdpLimits(sdp, limits);
  const lines = sdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines[0] !== 'v=0') throw new SdpError('offer SDP must start with "v=0"');
  const parsed: ParsedSdp = { session: [], media: [], candidates };
  for (const [index, line] of lines.entries()) {
    if (!/^[a-z]=/.test(line)) {
      throw new SdpError(`offer SDP line ${index + 1} is not "<type>=<value>": ${JSON.stringify(line.slice(0, 60))}`);
    }
    if (line.startsWith('m=')) {
      const m = /^m=(\S+) (\d+)(?:\/\d+)? (\S+)(?: (.*))?$/.exec(line);
      if (!m) throw new SdpError(`offer SDP line ${index + 1} is not a valid m= line`);
      const kind = m[1]!;
      const formats = (m[4] ?? '').split(' ').filter((f) => f.length > 0);
      if ((kind === 'audio' || kind === 'video') && formats.some((f) => !/^\d{1,3}$/.test(f) || Number(f) > 127)) {
        throw new SdpError(`offer SDP line ${index + 1}: ${kind} formats must be payload types 0-127`);
      }
      parsed.media.push({ kind, port: Number(m[2]), formats, lines: [line] });
    } else if (parsed.media.length === 0) {
      parsed.session.push(line);
    } else {
      parsed.media[parsed.media.length - 1]!.lines.push(line);
    }
  }
  if (!parsed.session.some((l) => l.startsWith('o='))) throw new SdpError('offer SDP has no o= line');
  const hasAttr = (name: string) =>
    parsed.session.some((l) => l.startsWith(`a=${name}:`)) ||
    parsed.media.every((m) => m.port === 0 || m.lines.some((l) => l.startsWith(`a=${name}:`)));
  if (parsed.media.length > 0) {
    for (const name of ['ice-ufrag', 'ice-pwd', 'fingerprint']) {
      if (!hasAttr(name)) throw new SdpError(`offer SDP has no a=${name}`);
    }
  }
  return parsed;
}

function attr(lines: string[], name: string): string | undefined {
  const prefix = `a=${name}:`;
  return lines.find((l) => l.startsWith(prefix))?.slice(prefix.length);
}

function direction(lines: string[]): Direction | undefined {
  for (const d of ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const) {
    if (lines.includes(`a=${d}`)) return d;
  }
  return undefined;
}

/** The first a=<name>:<pt> line of each payload type, found in one pass (not one search per format). */
function linesByPayloadType(section: MediaSection, name: 'rtpmap' | 'fmtp'): Map<number, string> {
  const prefix = `a=${name}:`;
  const byPt = new Map<number, string>();
  for (const line of section.lines) {
    if (!line.startsWith(prefix)) continue;
    const space = line.indexOf(' ', prefix.length);
    const pt = Number(line.slice(prefix.length, space < 0 ? undefined : space));
    if (Number.isInteger(pt) && !byPt.has(pt)) byPt.set(pt, space < 0 ? '' : line.slice(space + 1));
  }
  return byPt;
}

function offeredCodecs(section: MediaSection): OfferedCodec[] {
  const codecs: OfferedCodec[] = [];
  const rtpmaps = linesByPayloadType(section, 'rtpmap');
  const fmtps = linesByPayloadType(section, 'fmtp');
  for (const pt of new Set(section.formats.map(Number))) {
    const rtpmap = rtpmaps.get(pt);
    if (rtpmap === undefined) continue;
    const m = /^([^/\s]+)\/(\d+)(?:\/\d+)?$/.exec(rtpmap);
    if (!m) throw new SdpError(`offer SDP has a malformed rtpmap: ${JSON.stringify(`a=rtpmap:${pt} ${rtpmap}`.slice(0, 80))}`);
    codecs.push({ payloadType: pt, name: m[1]!.toUpperCase(), clockRate: Number(m[2]), fmtp: (fmtps.get(pt) ?? '').trim() });
  }
  return codecs;
}

export function fmtpParams(fmtp: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const part of fmtp.split(';')) {
    const [k, v] = part.split('=', 2);
    if (k && k.trim()) params.set(k.trim().toLowerCase(), (v ?? '').trim());
  }
  return params;
}

/** Higher is better; 0 = unusable. */
function codecScore(codec: OfferedCodec, prefer: VideoCodecName): number {
  if (codec.clockRate !== 90000) return 0;
  const preferBonus = (name: VideoCodecName) => (name === prefer ? 10 : 0);
  if (codec.name === 'VP8') return 1 + preferBonus('vp8');
  if (codec.name === 'H264') {
    const params = fmtpParams(codec.fmtp);
    if (params.get('packetization-mode') !== '1') return 0;
    // Our encoder emits constrained baseline; prefer the matching profile-level-id.
    const profile = (params.get('profile-level-id') ?? '').toLowerCase();
    const profileScore = profile === '42e01f' ? 3 : profile.startsWith('42e0') || profile.startsWith('4200') ? 2 : 1;
    return profileScore / 4 + preferBonus('h264');
  }
  return 0;
}

function sectionDirection(parsed: ParsedSdp, section: MediaSection): Direction {
  return direction(section.lines) ?? direction(parsed.session) ?? 'sendrecv';
}

/**
 * Validates a browser offer and picks the video codec, without allocating anything.
 * Throws SdpError (malformed), NoVideoError (no video section the browser sends) or
 * UnsupportedCodecError (video offered, but neither VP8 nor H.264 packetization-mode=1).
 */
/** `preferCodec` is the server's VIDEO_CODEC, required so that there is no second default. */
export function inspectOffer(offerSdp: unknown, preferCodec: VideoCodecName, limits: SdpLimits = DEFAULT_SDP_LIMITS): InspectedOffer {
  return pickVideo(parseSdp(offerSdp, limits), {
    directions: ['sendrecv', 'sendonly'],
    what: 'that the browser sends (sendrecv/sendonly)',
    preferCodec,
    incoming: true,
  });
}

/**
 * The same for a viewer's (WHEP) offer: a video section the viewer receives, offering `codec`,
 * the one codec the stream is already encoded in.
 */
export function inspectViewerOffer(offerSdp: unknown, codec: VideoCodecName, limits: SdpLimits = DEFAULT_SDP_LIMITS): InspectedOffer {
  return pickVideo(parseSdp(offerSdp, limits), {
    directions: ['recvonly', 'sendrecv'],
    what: 'that the viewer receives (recvonly/sendrecv)',
    preferCodec: codec,
    only: codec,
    incoming: false,
  });
}

function pickVideo(
  parsed: ParsedSdp,
  want: { directions: Direction[]; what: string; preferCodec: VideoCodecName; only?: VideoCodecName; incoming: boolean },
): InspectedOffer {
  const videos = parsed.media
    .map((section, index) => ({ section, index }))
    .filter(({ section }) => section.kind === 'video');
  if (videos.length === 0) throw new NoVideoError('offer has no video section');
  const usable = videos.filter(({ section }) => section.port !== 0 && want.directions.includes(sectionDirection(parsed, section)));
  if (usable.length === 0) throw new NoVideoError(`offer has no video section ${want.what}`);

  const offered: string[] = [];
  for (const { section, index } of usable) {
    const codecs = offeredCodecs(section);
    offered.push(...codecs.map((c) => c.name));
    let best: OfferedCodec | undefined;
    let bestScore = 0;
    for (const codec of codecs) {
      if (want.only && codecName(codec) !== want.only) continue;
      const score = codecScore(codec, want.preferCodec);
      if (score > bestScore) {
        best = codec;
        bestScore = score;
      }
    }
    if (!best) continue;
    if (want.incoming && !section.lines.some((l) => l.startsWith('a=ssrc:'))) {
      // werift 0.24.4 routes incoming RTP by SSRC (or rid); without a=ssrc nothing would arrive.
      throw new SdpError('the video section has no a=ssrc line (rid-only/simulcast offers are not supported)');
    }
    const chosen: ChosenVideo = {
      codec: codecName(best)!,
      payloadType: best.payloadType,
      mid: attr(section.lines, 'mid'),
      mLineIndex: index,
      fmtp: best.fmtp,
      direction: sectionDirection(parsed, section),
    };
    return { ...chosen, restrictedSdp: restrictVideoSection(parsed, index, best.payloadType), candidates: parsed.candidates };
  }
  const names = [...new Set(offered.filter((n) => !['RTX', 'RED', 'ULPFEC', 'FLEXFEC-03'].includes(n)))];
  const needed = want.only === 'vp8' ? 'VP8' : want.only === 'h264' ? 'H264 with packetization-mode=1' : 'neither VP8 nor H264 with packetization-mode=1';
  throw new UnsupportedCodecError(
    want.only
      ? `offered video codecs (${names.join(', ') || 'none'}) do not include ${needed}, the codec this stream is encoded in`
      : `offered video codecs (${names.join(', ') || 'none'}) include ${needed}`,
  );
}

function codecName(codec: OfferedCodec): VideoCodecName | undefined {
  return codec.name === 'VP8' ? 'vp8' : codec.name === 'H264' ? 'h264' : undefined;
}

function restrictVideoSection(parsed: ParsedSdp, index: number, payloadType: number): string {
  const out = [...parsed.session];
  parsed.media.forEach((section, i) => {
    if (i !== index) {
      out.push(...section.lines);
      return;
    }
    const [mLine, ...rest] = section.lines;
    const head = /^(m=\S+ \d+(?:\/\d+)? \S+)/.exec(mLine!)![1];
    out.push(`${head} ${payloadType}`);
    for (const line of rest) {
      const m = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ ]/.exec(line);
      if (m && Number(m[1]) !== payloadType) continue;
      // The RTX stream of a removed codec would still be announced; drop its FID group.
      if (line.startsWith('a=ssrc-group:FID ')) continue;
      out.push(line);
    }
  });
  return out.join('\r\n') + '\r\n';
}
