/**
 * Shared by the WHIP/WHEP route tests: the tokens their servers are started with, a publisher
 * and viewers made of real werift peers, a frame pump, and a server-sent events reader.
 */
import assert from 'node:assert/strict';
import { BrowserPeer } from '../webrtc/browser-peer.js';

export const TOKEN = 'ingest-token-for-tests';
export const OPERATOR = 'operator-token-for-tests';

export async function post(url: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers });
}

export async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return ((await res.json()) as { error: { code: string; message: string } }).error;
}

/** Sends the encoded frames in a loop at ~30 fps until stopped. */
export function pump(peer: BrowserPeer, frames: { data: Buffer; keyframe: boolean; ptsMs: number }[]): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    let i = 0;
    let pts = 0;
    while (running) {
      const f = frames[i % frames.length]!;
      await peer.sendFrame('h264', { data: f.data, ptsMs: pts });
      pts += 33;
      i++;
      await new Promise((r) => setTimeout(r, 33));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

export async function whip(url: string, modelId = 'invert'): Promise<{ publisher: BrowserPeer; res: Response; answer: string }> {
  const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
  const res = await post(`${url}/whip/${modelId}`, await publisher.createOffer(), {
    'content-type': 'application/sdp',
    authorization: `Bearer ${TOKEN}`,
  });
  const answer = await res.text();
  return { publisher, res, answer };
}

export async function whep(url: string, streamId: string): Promise<{ viewer: BrowserPeer; res: Response }> {
  const viewer = new BrowserPeer({ codecs: ['h264', 'vp8'], direction: 'recvonly' });
  const res = await post(`${url}/whep/${streamId}`, await viewer.createOffer(), { 'content-type': 'application/sdp' });
  if (res.status === 201) await viewer.acceptAnswer(await res.text());
  return { viewer, res };
}

/** Reads server-sent events until `until` returns true or the stream ends. */
export async function readEvents(url: string, until: (events: { event: string; data: string }[]) => boolean, timeoutMs: number) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const events: { event: string; data: string }[] = [];
  try {
    const res = await fetch(url, { signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const decoder = new TextDecoder();
    let buf = '';
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data });
      }
      if (until(events)) break;
    }
  } catch (err) {
    if (!ctrl.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ctrl.abort();
  }
  return events;
}
