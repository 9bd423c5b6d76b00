/**
 * Caps on a client's SDP, checked in one pass over the text before anything parses it (our
 * parser, or werift's). A browser's offer is far inside them; a hostile one is refused in
 * microseconds instead of costing the parsers, werift's per-section transports and its ICE checks.
 */
import { SdpLimitError } from '../shared/errors.js';

export interface SdpLimits {
  maxBytes: number;
  maxMediaSections: number;
  maxFormatsPerSection: number;
  /** a= lines in the whole description. */
  maxAttributeLines: number;
  maxLineBytes: number;
  /** a=candidate lines; for a session, trickled candidates count against the same number. */
  maxCandidates: number;
}

/** The server's defaults (config MAX_SDP_*, MAX_ICE_CANDIDATES_PER_SESSION), for the stage used on its own. */
export const DEFAULT_SDP_LIMITS: Readonly<SdpLimits> = Object.freeze({
  maxBytes: 32_768,
  maxMediaSections: 8,
  maxFormatsPerSection: 64,
  maxAttributeLines: 1000,
  maxLineBytes: 4096,
  maxCandidates: 64,
});

export interface SdpCounts {
  bytes: number;
  mediaSections: number;
  attributeLines: number;
  candidates: number;
}

/** The config key an operator raises for each limit, named in the error. */
const KEY: Record<keyof SdpLimits, string> = {
  maxBytes: 'MAX_SDP_BYTES',
  maxMediaSections: 'MAX_SDP_MEDIA_SECTIONS',
  maxFormatsPerSection: 'MAX_SDP_FORMATS_PER_SECTION',
  maxAttributeLines: 'MAX_SDP_ATTRIBUTE_LINES',
  maxLineBytes: 'MAX_SDP_LINE_BYTES',
  maxCandidates: 'MAX_ICE_CANDIDATES_PER_SESSION',
};

function over(what: string, count: string, limit: keyof SdpLimits, limits: SdpLimits): SdpLimitError {
  return new SdpLimitError(`${what} has ${count}; the limit is ${limits[limit]} (${KEY[limit]})`);
}

/**
 * Counts sections, formats, attribute lines and candidates, and throws SdpLimitError at the first
 * cap exceeded. Linear in the text: one indexOf scan per line, no regular expressions.
 * `candidatesBefore` are candidates the session already has (for trickled fragments).
 */
export function checkSdpLimits(sdp: string, limits: SdpLimits, what = 'offer SDP', candidatesBefore = 0): SdpCounts {
  // A UTF-16 length above the byte cap is over it whatever the encoding; count bytes only below.
  const bytes = sdp.length > limits.maxBytes ? sdp.length : Buffer.byteLength(sdp);
  if (bytes > limits.maxBytes) throw over(what, `${bytes} bytes`, 'maxBytes', limits);
  const counts: SdpCounts = { bytes, mediaSections: 0, attributeLines: 0, candidates: 0 };
  for (let start = 0, line = 1; start < sdp.length; line++) {
    let end = sdp.indexOf('\n', start);
    if (end < 0) end = sdp.length;
    const length = end - start - (sdp.charCodeAt(end - 1) === 13 ? 1 : 0);
    if (length > limits.maxLineBytes) throw over(what, `a ${length}-byte line (line ${line})`, 'maxLineBytes', limits);
    const type = sdp.charCodeAt(start);
    if (sdp.charCodeAt(start + 1) === 61 /* = */) {
      if (type === 109 /* m */) {
        if (++counts.mediaSections > limits.maxMediaSections) throw over(what, 'more media sections', 'maxMediaSections', limits);
        // m=<media> <port> <proto> <fmt> ...: formats are the words after the third.
        let words = 0;
        for (let i = start + 2; i < start + length; i++) {
          if (sdp.charCodeAt(i) === 32 && sdp.charCodeAt(i - 1) !== 32) words++;
        }
        const formats = Math.max(0, words - 2);
        if (formats > limits.maxFormatsPerSection) throw over(what, `${formats} formats in media section ${counts.mediaSections}`, 'maxFormatsPerSection', limits);
      } else if (type === 97 /* a */) {
        if (++counts.attributeLines > limits.maxAttributeLines) throw over(what, 'more attribute lines', 'maxAttributeLines', limits);
        if (sdp.startsWith('a=candidate:', start) && ++counts.candidates + candidatesBefore > limits.maxCandidates) {
          throw over(what, candidatesBefore > 0 ? `more ICE candidates (${candidatesBefore} before it)` : 'more ICE candidates', 'maxCandidates', limits);
        }
      }
    }
    start = end + 1;
  }
  return counts;
}
