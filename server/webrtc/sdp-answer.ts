/**
 * Rewrites of werift's answer before it goes to the browser: Chromium's bitrate hints on the
 * chosen codec, and rejected sections out of the BUNDLE group. The offer side is in sdp.ts.
 */
import { ConfigError, SdpError } from '../shared/errors.js';

export interface BitrateHintsKbps {
  min: number;
  start: number;
  max: number;
}

export function validateBitrateHints(kbps: BitrateHintsKbps): void {
  const ok = [kbps.min, kbps.start, kbps.max].every((v) => Number.isInteger(v) && v > 0);
  if (!ok || kbps.min > kbps.start || kbps.start > kbps.max) {
    throw new ConfigError('browserBitrateKbps', 'needs positive integers with min <= start <= max');
  }
}

/**
 * Adds Chromium's x-google-{start,min,max}-bitrate to the answer's fmtp line of the chosen codec.
 * werift sends no REMB, so without these Chromium's encoder settles near 850 kbps and drops resolution.
 */
export function addBitrateHints(
  answerSdp: string,
  mLineIndex: number,
  payloadType: number,
  kbps: BitrateHintsKbps,
): string {
  const hints = `x-google-start-bitrate=${kbps.start};x-google-min-bitrate=${kbps.min};x-google-max-bitrate=${kbps.max}`;
  const lines = answerSdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const mIndexes = lines.flatMap((l, i) => (l.startsWith('m=') ? [i] : []));
  const begin = mIndexes[mLineIndex];
  if (begin === undefined) throw new SdpError(`answer has no m= section #${mLineIndex}`);
  const end = mIndexes[mLineIndex + 1] ?? lines.length;
  const find = (prefix: string) => {
    for (let i = begin + 1; i < end; i++) if (lines[i]!.startsWith(prefix)) return i;
    return -1;
  };
  const fmtpPrefix = `a=fmtp:${payloadType} `;
  const fmtpIndex = find(fmtpPrefix);
  if (fmtpIndex >= 0) {
    const kept = lines[fmtpIndex]!
      .slice(fmtpPrefix.length)
      .split(';')
      .filter((p) => p.trim() && !p.trim().startsWith('x-google-'));
    lines[fmtpIndex] = fmtpPrefix + [...kept, hints].join(';');
  } else {
    const rtpmapIndex = find(`a=rtpmap:${payloadType} `);
    if (rtpmapIndex < 0) throw new SdpError(`answer has no rtpmap for payload type ${payloadType}`);
    lines.splice(rtpmapIndex + 1, 0, fmtpPrefix + hints);
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * werift answers an inactive transceiver with port 0 (a rejected section) but leaves its mid in
 * a=group:BUNDLE; JSEP wants rejected sections out of the group, and Chromium checks it.
 */
export function dropRejectedFromBundle(answerSdp: string): string {
  const lines = answerSdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const rejected = new Set<string>();
  let inRejected = false;
  for (const line of lines) {
    if (line.startsWith('m=')) inRejected = /^m=\S+ 0[ /]/.test(line);
    else if (inRejected && line.startsWith('a=mid:')) rejected.add(line.slice('a=mid:'.length).trim());
  }
  if (rejected.size === 0) return lines.join('\r\n') + '\r\n';
  return (
    lines
      .map((line) => {
        if (!line.startsWith('a=group:BUNDLE')) return line;
        const mids = line.slice('a=group:BUNDLE'.length).trim().split(/\s+/).filter((m) => m && !rejected.has(m));
        return `a=group:BUNDLE ${mids.join(' ')}`.trimEnd();
      })
      .join('\r\n') + '\r\n'
  );
}
