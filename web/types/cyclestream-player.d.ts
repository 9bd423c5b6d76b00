import type { DetailedHTMLProps, HTMLAttributes } from 'react';

/** Attributes of the <cyclestream-player> custom element defined by public/cyclestream-player.js. */
interface CycleStreamPlayerAttributes extends HTMLAttributes<HTMLElement> {
  /** The live session id. */
  stream: string;
  /** Origin (optionally with a path prefix) of the cyclestream server; defaults to the script's origin. */
  server?: string;
  /** Viewer token, when the server requires one. */
  token?: string;
  /** JSON array of RTCIceServer; none are needed on one machine or a LAN. */
  'ice-servers'?: string;
}

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'cyclestream-player': DetailedHTMLProps<CycleStreamPlayerAttributes, HTMLElement>;
    }
  }
}
