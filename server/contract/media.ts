/**
 * The media and backend vocabulary that the config, the zod schemas, the server stages and
 * web/ share. Each is declared here once; the lists exist as values so zod can enumerate them.
 */

/** The video codecs we negotiate over WebRTC, encode and send. */
export const VIDEO_CODECS = ['vp8', 'h264'] as const;
export type VideoCodecName = (typeof VIDEO_CODECS)[number];

/** ONNX Runtime execution providers, in the default order of preference. */
export const PROVIDERS = ['cuda', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDERS)[number];
/** The provider a model actually runs on, as reported to clients. */
export type Backend = Provider;

/** How the model picker groups models, in its order; a manifest without a group is `other`. */
export const MODEL_GROUPS = ['animals', 'seasons', 'painters', 'other'] as const;
export type ModelGroup = (typeof MODEL_GROUPS)[number];

/** A STUN or TURN server, as RTCPeerConnection takes it in both the browser and werift. */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

/** Bounds on values a client (socket, HTTP) or the config may set; one place, so they agree. */
export const LIMITS = Object.freeze({
  /** Short side of the frame the model sees. */
  processingShortSidePx: { min: 64, max: 1080 },
  /** 0 = off, 1 = strongest temporal smoothing. */
  smoothing: { min: 0, max: 1 },
  modelIdChars: 200,
  offerSdpChars: 100_000,
  tokenChars: 200,
});
export type Limits = typeof LIMITS;
