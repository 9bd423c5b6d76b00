/**
 * One encoded stream, many receivers: each frame is packetized once and the packets are
 * forwarded to every sink. A sink joins at a key frame (a delta frame it cannot decode would
 * only make it ask for one), and a sink that falls behind is cut back to the next key frame
 * instead of buffering delay.
 */
import { RtpHeader, RtpPacket } from 'werift';
import { RtpVideoWriter, type VideoCodecName } from '../webrtc/index.js';

/** Anything that takes RTP: a viewer's peer connection, or the publisher's own return path. */
export interface RtpSink {
  readonly id: string;
  sendRtp(packets: readonly RtpPacket[], keyframe: boolean): Promise<boolean>;
}

export interface FanoutFrame {
  data: Uint8Array;
  keyframe: boolean;
  ptsMs: number;
}

export interface VideoFanoutOptions {
  codec: VideoCodecName;
  /** A sink joined, connected, or fell behind and needs a key frame to go on. */
  onKeyframeNeeded: (reason: 'sink-joined' | 'sink-behind') => void;
  /** Frames queued for one sink before it is cut back to the next key frame. Default 8. */
  maxPendingFrames?: number;
  maxPayloadBytes?: number;
}

export interface FanoutSinkStats {
  id: string;
  framesSent: number;
  /** Delta frames held back while the sink waited for a key frame. */
  framesSkipped: number;
  /** Frames dropped because the sink's sends fell behind. */
  framesDropped: number;
}

export interface FanoutStats {
  /** Frames written (each packetized once). */
  frames: number;
  keyframes: number;
  packets: number;
  sinks: FanoutSinkStats[];
}

interface SinkState {
  sink: RtpSink;
  waitingForKeyframe: boolean;
  /** Bumped by every key frame queued for the sink; a delta belongs to the latest one. */
  generation: number;
  /** A generation whose key frame was refused: its queued deltas cannot decode. */
  refusedGeneration: number;
  pending: number;
  chain: Promise<void>;
  stats: FanoutSinkStats;
}

export class VideoFanout {
  readonly codec: VideoCodecName;
  readonly #writer: RtpVideoWriter;
  readonly #sinks = new Map<RtpSink, SinkState>();
  readonly #opts: VideoFanoutOptions;
  readonly #maxPending: number;
  #frames = 0;
  #keyframes = 0;
  #packets = 0;

  constructor(opts: VideoFanoutOptions) {
    this.#opts = opts;
    this.codec = opts.codec;
    this.#maxPending = Math.max(1, opts.maxPendingFrames ?? 8);
    this.#writer = new RtpVideoWriter({ codec: opts.codec, maxPayloadBytes: opts.maxPayloadBytes });
  }

  get size(): number {
    return this.#sinks.size;
  }

  /** Returns the function that removes the sink again. */
  add(sink: RtpSink): () => void {
    if (!this.#sinks.has(sink)) {
      this.#sinks.set(sink, {
        sink,
        waitingForKeyframe: true,
        generation: 0,
        refusedGeneration: -1,
        pending: 0,
        chain: Promise.resolve(),
        stats: { id: sink.id, framesSent: 0, framesSkipped: 0, framesDropped: 0 },
      });
      this.#opts.onKeyframeNeeded('sink-joined');
    }
    return () => {
      this.#sinks.delete(sink);
    };
  }

  /** Packetizes once and queues the packets on every sink; does not wait for the sends. */
  write(frame: FanoutFrame): void {
    const packets = this.#writer.write(frame);
    this.#frames++;
    if (frame.keyframe) this.#keyframes++;
    this.#packets += packets.length;
    for (const state of this.#sinks.values()) {
      if (state.waitingForKeyframe && !frame.keyframe) {
        state.stats.framesSkipped++;
        continue;
      }
      if (state.pending >= this.#maxPending) {
        state.stats.framesDropped++;
        state.waitingForKeyframe = true;
        this.#opts.onKeyframeNeeded('sink-behind');
        continue;
      }
      // Decided now, not when the send resolves, so the deltas after this key frame go too.
      state.waitingForKeyframe = false;
      if (frame.keyframe) state.generation++;
      const generation = state.generation;
      state.pending++;
      // werift's sender rewrites SSRC, payload type and extensions in place: one header per sink.
      const own = packets.map((p) => new RtpPacket(cloneHeader(p.header), p.payload));
      const refused = () => {
        if (!frame.keyframe) return;
        state.refusedGeneration = generation;
        // Only if no newer key frame is queued behind it; that one starts the sink instead. No key
        // frame is requested here: a sink refuses while it is still connecting, and asking on every
        // refusal would make every frame a key frame for the other viewers until it is up. The
        // sink's peer asks for one itself once connected.
        if (state.generation === generation) state.waitingForKeyframe = true;
      };
      state.chain = state.chain
        .then(async () => {
          if (generation === state.refusedGeneration) {
            state.stats.framesSkipped++;
            return;
          }
          if (await state.sink.sendRtp(own, frame.keyframe)) state.stats.framesSent++;
          else refused();
        })
        .catch(refused)
        .finally(() => {
          state.pending--;
        });
    }
  }

  /** Resolves when every queued send has finished. */
  async flush(): Promise<void> {
    await Promise.all([...this.#sinks.values()].map((s) => s.chain));
  }

  stats(): FanoutStats {
    return {
      frames: this.#frames,
      keyframes: this.#keyframes,
      packets: this.#packets,
      sinks: [...this.#sinks.values()].map((s) => ({ ...s.stats })),
    };
  }
}

function cloneHeader(h: RtpHeader): RtpHeader {
  return new RtpHeader({
    payloadType: h.payloadType,
    ssrc: h.ssrc,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    marker: h.marker,
  });
}
