/**
 * The CLI's exit codes, and which one an error from the server's stages ends in: the code
 * tells a script whether to fix its input, its model or its output folder.
 */
import type { CycleStreamError } from '../../server/shared/index.js';

export const EXIT = { ok: 0, failure: 1, usage: 2, input: 3, model: 4, output: 5, interrupted: 130 } as const;

export function exitCodeFor(err: CycleStreamError): number {
  switch (err.code) {
    case 'MEDIA_INVALID':
    case 'MEDIA_UNSUPPORTED':
    case 'NO_VIDEO':
    case 'UNSUPPORTED_CODEC':
    case 'FRAME_TOO_LARGE':
      return EXIT.input;
    case 'MODEL_NOT_FOUND':
    case 'MODEL_ID_INVALID':
    case 'MODEL_LOAD_FAILED':
    case 'MANIFEST_INVALID':
    case 'PROVIDER_UNAVAILABLE':
      return EXIT.model;
    case 'JOB_CANCELLED':
      return EXIT.interrupted;
    case 'BAD_REQUEST':
    case 'CONFIG_INVALID':
      return EXIT.usage;
    default:
      return EXIT.failure;
  }
}
