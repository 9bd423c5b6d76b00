/**
 * WebRTC stage: one werift peer connection per live session. Encoded frames come out of the
 * browser's video (onFrame / frames()), encoded frames go back in (sendFrame), key-frame requests
 * flow both ways (requestKeyframe / onKeyframeRequest).
 */
export {
  ANSWER_STREAM_ID,
  createPeerSession,
  type CloseReason,
  type EncodedVideoFrame,
  type FramesOptions,
  type IceServerConfig,
  type KeyframeRequestReason,
  type KeyframeRequestSource,
  type OutgoingVideoFrame,
  type PeerSession,
  type PeerSessionLogger,
  type PeerSessionOptions,
  type PeerSessionStats,
} from './peer-session.js';
export { inspectOffer, type BitrateHintsKbps, type InspectedOffer } from './sdp.js';
export { DEFAULT_SDP_LIMITS, checkSdpLimits, type SdpCounts, type SdpLimits } from './sdp-limits.js';
export { Vp8Packetizer, isVp8Keyframe, type Vp8PacketizerOptions } from './vp8-packetizer.js';
export { H264Packetizer, isH264Keyframe, splitAnnexB, type H264PacketizerOptions } from './h264-packetizer.js';
export { RtpVideoWriter, type RtpVideoWriterOptions, type WritableVideoFrame } from './rtp-writer.js';
export { DEFAULT_MAX_PAYLOAD_BYTES, VIDEO_CLOCK_RATE, type VideoCodecName } from './rtp-util.js';
