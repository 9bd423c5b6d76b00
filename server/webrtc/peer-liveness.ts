/**
 * When a peer connection counts as gone: no RTP (for a viewer, no RTCP) for `idleTimeoutMs`,
 * or connectionState 'disconnected' for longer than `disconnectGraceMs`.
 */
export type LivenessVerdict = 'idle-timeout' | 'disconnected';

export interface PeerLivenessOptions {
  /** 0 disables the idle timeout. */
  idleTimeoutMs: number;
  disconnectGraceMs: number;
  onGone: (verdict: LivenessVerdict) => void;
}

export class PeerLiveness {
  #lastHeardAt = performance.now();
  #idleTimer: NodeJS.Timeout | undefined;
  #disconnectTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly opts: PeerLivenessOptions) {}

  /** The far end showed it is there. */
  heard(): void {
    this.#lastHeardAt = performance.now();
  }

  /** Idempotent; counts from now. */
  startIdleTimer(): void {
    const { idleTimeoutMs } = this.opts;
    if (idleTimeoutMs <= 0 || this.#idleTimer || this.#stopped) return;
    this.heard();
    this.#idleTimer = setInterval(
      () => {
        if (performance.now() - this.#lastHeardAt >= idleTimeoutMs) this.opts.onGone('idle-timeout');
      },
      Math.min(1000, Math.max(10, idleTimeoutMs / 4)),
    );
    this.#idleTimer.unref();
  }

  disconnected(): void {
    if (this.#disconnectTimer || this.#stopped) return;
    this.#disconnectTimer = setTimeout(() => this.opts.onGone('disconnected'), this.opts.disconnectGraceMs);
    this.#disconnectTimer.unref();
  }

  connected(): void {
    if (this.#disconnectTimer) clearTimeout(this.#disconnectTimer);
    this.#disconnectTimer = undefined;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
    this.connected();
  }
}
