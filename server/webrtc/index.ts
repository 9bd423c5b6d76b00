/**
 * WebRTC stage: one werift peer connection per publisher or viewer. Encoded frames come out of
 * the browser's video (onFrame), RTP packetized once by streams/ goes back in (sendRtp), key-frame
 * requests flow both ways (requestKeyframe / onKeyframeRequest).
 */
export {
  ANSWER_STREAM_ID,
  createPeerSession,
  type CloseReason,
  type EncodedVideoFrame,
  type KeyframeRequestReason,
  type KeyframeRequestSource,
  type PeerRole,
  type PeerSession,
  type PeerSessionLogger,
  type PeerSessionOptions,
  type PeerSessionStats,
} from './peer-session.js';
export { inspectOffer, type InspectedOffer } from './sdp.js';
export type { BitrateHintsKbps } from './sdp-answer.js';
export { DEFAULT_SDP_LIMITS, checkSdpLimits, type SdpCounts, type SdpLimits } from './sdp-limits.js';
export { Vp8Packetizer, isVp8Keyframe, type Vp8PacketizerOptions } from './vp8-packetizer.js';
export { H264Packetizer, isH264Keyframe, splitAnnexB, type H264PacketizerOptions } from './h264-packetizer.js';
export { RtpVideoWriter, type RtpVideoWriterOptions, type WritableVideoFrame } from './rtp-writer.js';
export { DEFAULT_MAX_PAYLOAD_BYTES, VIDEO_CLOCK_RATE, type VideoCodecName } from './rtp-util.js';
