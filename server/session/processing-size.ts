/**
 * Which short side a live session processes at. A client may name one (explicit), or leave it
 * to the server (auto). Auto is the server's PROCESSING_SHORT_SIDE_PX, lowered on the CPU
 * provider to the model's `cpuShortSidePx` where its manifest has one: a heavy model that
 * cannot keep realtime on a CPU at the default still can at a smaller size, and a smaller
 * frame from the better model looks better than the fast model's. GPUs keep the default, and
 * a hint above the default never raises it: the default is the operator's ceiling.
 */
import type { Backend } from '../contract/index.js';
import type { Generator } from '../inference/index.js';

/** What the client asked for: a number of pixels, or auto ('auto', or nothing at all). */
export type ShortSideRequest = number | 'auto' | undefined;

export interface ProcessingShortSide {
  px: number;
  auto: boolean;
}

export function processingShortSide(
  request: ShortSideRequest,
  configDefaultPx: number,
  cpuShortSidePx: number | undefined,
  provider: Backend,
): ProcessingShortSide {
  if (typeof request === 'number') return { px: request, auto: false };
  const px = provider === 'cpu' && cpuShortSidePx !== undefined ? Math.min(configDefaultPx, cpuShortSidePx) : configDefaultPx;
  return { px, auto: true };
}

/**
 * A live session's short side: what the client asked for, resolved against whichever model runs
 * now, so an auto session follows a model switch (the new model's hint and provider) while an
 * explicit one keeps its size.
 */
export class ShortSideSetting {
  #request: number | 'auto';

  constructor(
    private readonly configDefaultPx: number,
    request: ShortSideRequest,
  ) {
    this.#request = request ?? 'auto';
  }

  set(request: number | 'auto'): void {
    this.#request = request;
  }

  for(generator: Pick<Generator, 'manifest' | 'provider'>): ProcessingShortSide {
    return processingShortSide(this.#request, this.configDefaultPx, generator.manifest.cpuShortSidePx, generator.provider);
  }
}
