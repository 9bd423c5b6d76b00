/**
 * The one key-frame policy of a live session, for both directions. Every requester calls it:
 *
 * - our output: the publisher's PLI/FIR or its connection coming up, a viewer's PLI/FIR or
 *   connection, and a fan-out sink that joined or fell behind all make the next encoded frame
 *   a key frame (many requests before one encode still cost one key frame);
 * - our input: the decode stage (decode errors, backpressure) asks the publisher's encoder for
 *   one through its peer, which rate-limits the PLIs; the peer's own receive path asks at stream
 *   start and on loss.
 */
import type { Logger } from 'pino';
import type { KeyframeRequestReason, KeyframeRequestSource } from '../webrtc/index.js';

/** Who wants a key frame from our encoder. */
export type OutputKeyframeReason = `publisher-${KeyframeRequestSource}` | 'viewer' | 'sink-joined' | 'sink-behind';

export class KeyframePolicy {
  /** The first frame out is a key frame: nothing can decode before one. */
  #outputPending = true;

  constructor(
    private readonly askPublisher: (reason: KeyframeRequestReason) => boolean,
    private readonly log: Pick<Logger, 'debug'>,
  ) {}

  /** The next frame our encoder makes is a key frame. */
  forceOutput(reason: OutputKeyframeReason): void {
    if (!this.#outputPending) this.log.debug({ reason }, 'key frame requested on our output');
    this.#outputPending = true;
  }

  /** Called by the encoder once per frame: whether this one must be a key frame. */
  takeOutput(): boolean {
    const pending = this.#outputPending;
    this.#outputPending = false;
    return pending;
  }

  /** Asks the publisher for a key frame; false when the PLI was rate-limited or could not go out. */
  requestInput(reason: KeyframeRequestReason): boolean {
    return this.askPublisher(reason);
  }
}
