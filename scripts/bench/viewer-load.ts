/**
 * The viewers bench's load generator, in its own process so that its WebRTC work (SRTP, jitter
 * buffers, depacketizing) never counts as server CPU. Werift viewers watch one stream over WHEP.
 *
 *   node --import tsx scripts/bench/viewer-load.ts --url http://127.0.0.1:PORT --stream ID
 *
 * Commands, one JSON object per stdin line, each answered by one JSON line on stdout:
 *   {"cmd":"add","count":N}  -> {"ttffMs":[...]}   N more viewers; time from the WHEP POST to the
 *                                                   first complete frame, per new viewer
 *   {"cmd":"frames"}         -> {"frames":[...]}   frames received so far, per viewer
 *   {"cmd":"quit"}           -> {"ok":true}        every viewer leaves (DELETE), then exit
 */
import { createInterface } from 'node:readline';
import { BrowserPeer } from '../../test/server/webrtc/browser-peer.js';
import { requiredArg } from '../args.js';

const arg = (name: string): string => requiredArg(name);

const url = arg('--url');
const streamId = arg('--stream');
const viewers: { peer: BrowserPeer; location: string }[] = [];

async function addViewer(): Promise<number> {
  const peer = new BrowserPeer({ codecs: ['h264', 'vp8'], direction: 'recvonly' });
  const offer = await peer.createOffer();
  const t0 = performance.now();
  const res = await fetch(`${url}/whep/${streamId}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: offer });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${await res.text()}`);
  await peer.acceptAnswer(await res.text());
  viewers.push({ peer, location: new URL(res.headers.get('location')!, url).href });
  const deadline = Date.now() + 15_000;
  while (peer.firstFrameAt === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return peer.firstFrameAt === undefined ? NaN : peer.firstFrameAt - t0;
}

const reply = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const msg = JSON.parse(line) as { cmd: string; count?: number };
  try {
    if (msg.cmd === 'add') {
      const ttffMs: number[] = [];
      for (let i = 0; i < (msg.count ?? 1); i++) ttffMs.push(await addViewer());
      reply({ ttffMs });
    } else if (msg.cmd === 'frames') {
      reply({ frames: viewers.map((v) => v.peer.received.length) });
    } else if (msg.cmd === 'quit') {
      for (const v of viewers) {
        await fetch(v.location, { method: 'DELETE' }).catch(() => undefined);
        await v.peer.close();
      }
      reply({ ok: true });
      break;
    }
  } catch (err) {
    reply({ error: err instanceof Error ? err.message : String(err) });
  }
}
process.exit(0);
