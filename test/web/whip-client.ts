import { readFileSync } from 'node:fs';

/**
 * whip-client.browser.js as text, for page.evaluate or a <script> (plain browser JavaScript, so
 * tsx does not rewrite it). It defines on window:
 *   publish(server, token, modelId?, width?, height?) -> stream id   (WHIP, the fake camera)
 *   watch(server, streamId, videoId)                                   (WHEP into <video id>)
 *   leave(videoId) -> DELETE status
 *   framesOf(videoId, ms?) -> frames the <video> presented in that time
 */
export const WHIP_CLIENT_SOURCE = readFileSync(new URL('./whip-client.browser.js', import.meta.url), 'utf8');

export interface WhipClientWindow {
  publish(server: string, token: string, modelId?: string, width?: number, height?: number): Promise<string>;
  watch(server: string, streamId: string, videoId: string): Promise<void>;
  leave(videoId: string): Promise<number>;
  framesOf(videoId: string, ms?: number): Promise<number>;
}
