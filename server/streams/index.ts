/**
 * Streams stage: a live session's translated video, encoded once, forwarded as RTP to the
 * publisher's own return path and to every WHEP viewer.
 */
export { VideoFanout, type FanoutFrame, type FanoutStats, type FanoutSinkStats, type RtpSink, type VideoFanoutOptions } from './fanout.js';
export { ViewerSet, type CreateViewerPeer, type ViewerSetOptions } from './viewers.js';
