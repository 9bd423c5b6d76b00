/**
 * The soak's clients, in their own process so that their WebRTC and HTTP work never counts
 * against the server's memory, descriptors or event loop (scripts/soak.ts measures those):
 * - a WHIP publisher sending real H.264 frames (libx264, test/server/webrtc/encode.ts) at 30 fps;
 * - 4 WHEP viewers of its stream;
 * - a socket.io client that starts a live session, sends frames, and reconnects every 5 s;
 * - a video job uploaded every 30 s (the shared DAVIS clip; see ../shared/datasets/videos/README.md).
 *
 *   node --import tsx scripts/soak/load.ts --url URL --token INGEST_TOKEN --minutes N --clip FILE --model ID
 *
 * Prints one JSON line per minute ({"minute":..}) and a final {"summary":..} line on stdout.
 */
import { openAsBlob } from 'node:fs';
import { io as ioClient, type Socket } from 'socket.io-client';
import { BrowserPeer } from '../../test/server/webrtc/browser-peer.js';
import { encodeFrames, type TestFrame } from '../../test/server/webrtc/encode.js';
import type { ClientToServerEvents, JobInfo, ServerToClientEvents, SessionInfo, WireError } from '../../server/contract/index.js';
import type { VideoCodecName } from '../../server/contract/index.js';
import { requiredArg } from '../args.js';

const arg = (name: string): string => requiredArg(name);

const url = arg('--url');
const token = arg('--token');
const minutes = Number(arg('--minutes'));
const clip = arg('--clip');
const modelId = arg('--model');
const endAt = Date.now() + minutes * 60_000;
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends `frames` in a loop at ~30 fps while `running()`. */
async function send(peer: BrowserPeer, codec: VideoCodecName, frames: TestFrame[], running: () => boolean): Promise<number> {
  let sent = 0;
  for (let i = 0, pts = 0; running(); i++, pts += 33) {
    const f = frames[i % frames.length]!;
    await peer.sendFrame(codec, { data: f.data, ptsMs: pts });
    sent++;
    await sleep(33);
  }
  return sent;
}

// --- WHIP publisher and WHEP viewers --------------------------------------------------------
const frames = encodeFrames({ codec: 'h264', width: 640, height: 480, count: 60, forceKeyframes: [30] });
const publisher = new BrowserPeer({ codecs: ['h264'], direction: 'sendonly' });
const whip = await fetch(`${url}/whip/${modelId}`, {
  method: 'POST',
  body: await publisher.createOffer(),
  headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
});
if (whip.status !== 201) throw new Error(`WHIP ${whip.status}: ${await whip.text()}`);
await publisher.acceptAnswer(await whip.text());
await publisher.connected();
const streamId = whip.headers.get('x-stream-id')!;
const whipResource = new URL(whip.headers.get('location')!, url).href;
let publishing = true;
const publishing$ = send(publisher, 'h264', frames, () => publishing);

const viewers: { peer: BrowserPeer; location: string }[] = [];
for (let i = 0; i < 4; i++) {
  const peer = new BrowserPeer({ codecs: ['h264'], direction: 'recvonly' });
  const res = await fetch(`${url}/whep/${streamId}`, { method: 'POST', body: await peer.createOffer(), headers: { 'content-type': 'application/sdp' } });
  if (res.status !== 201) throw new Error(`WHEP ${res.status}: ${await res.text()}`);
  await peer.acceptAnswer(await res.text());
  viewers.push({ peer, location: new URL(res.headers.get('location')!, url).href });
}

// --- the reconnecting socket.io client ------------------------------------------------------
const sessions = { started: 0, failed: 0, closedEarly: 0, errors: [] as string[] };
const webcamFrames = encodeFrames({ codec: 'vp8', width: 320, height: 240, count: 30 });
async function reconnectLoop(): Promise<void> {
  while (Date.now() < endAt) {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = ioClient(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    const peer = new BrowserPeer({ codecs: ['vp8'] });
    const cycleEnd = Date.now() + 5000;
    let closedEarly = false;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      socket.on('session:closed', () => (closedEarly = true));
      const offerSdp = await peer.createOffer();
      const res = await new Promise<({ ok: true } & SessionInfo) | { ok: false; error: WireError }>((resolve) =>
        socket.emit('session:start', { offerSdp, modelId, smoothing: 0.5 }, resolve),
      );
      if (!res.ok) throw new Error(`${res.error.code}: ${res.error.message}`);
      sessions.started++;
      await peer.acceptAnswer(res.answerSdp);
      await send(peer, 'vp8', webcamFrames, () => Date.now() < cycleEnd);
      if (closedEarly) sessions.closedEarly++;
    } catch (err) {
      sessions.failed++;
      sessions.errors.push(err instanceof Error ? err.message : String(err));
    } finally {
      socket.disconnect();
      await peer.close();
    }
    await sleep(Math.max(0, cycleEnd - Date.now()));
  }
}
const reconnecting = reconnectLoop();

// --- a job every 30 s -----------------------------------------------------------------------
interface Uploaded {
  id: string;
  /** A job capability, when the server hands one out: sent back as a bearer token and ?token=. */
  token?: string;
}
const jobs: Uploaded[] = [];
const jobErrors: string[] = [];
const withToken = (path: string, job: Uploaded) => (job.token ? `${path}?token=${encodeURIComponent(job.token)}` : path);
const authOf = (job: Uploaded): Record<string, string> => (job.token ? { authorization: `Bearer ${job.token}` } : {});
async function uploadLoop(): Promise<void> {
  while (Date.now() < endAt) {
    const next = Date.now() + 30_000;
    try {
      const form = new FormData();
      form.set('modelId', modelId);
      form.set('size', 'x240');
      form.set('file', await openAsBlob(clip), 'soak.mp4');
      const res = await fetch(`${url}/api/jobs`, { method: 'POST', body: form });
      const body = (await res.json()) as JobInfo & { token?: string; error?: WireError };
      if (res.status !== 201) throw new Error(`upload ${res.status}: ${body.error?.code} ${body.error?.message}`);
      jobs.push({ id: body.id, ...(typeof body.token === 'string' ? { token: body.token } : {}) });
    } catch (err) {
      jobErrors.push(err instanceof Error ? err.message : String(err));
    }
    await sleep(Math.max(0, Math.min(next, endAt) - Date.now()));
  }
}
const uploading = uploadLoop();

// --- per-minute progress, then the end ------------------------------------------------------
const startedAt = Date.now();
for (let m = 1; m <= minutes; m++) {
  await sleep(Math.max(0, startedAt + m * 60_000 - Date.now()));
  print({ minute: m, viewerFrames: viewers.map((v) => v.peer.received.length), sessionsStarted: sessions.started, sessionsFailed: sessions.failed, jobsUploaded: jobs.length });
}
await Promise.all([reconnecting, uploading]);

// Every uploaded job must end done; they queue behind each other, so allow them time.
const jobStates: Record<string, string> = {};
const jobsDeadline = Date.now() + 5 * 60_000;
for (const job of jobs) {
  for (;;) {
    const res = await fetch(`${url}${withToken(`/api/jobs/${job.id}`, job)}`, { headers: authOf(job) });
    const info = (await res.json()) as JobInfo & { error?: WireError };
    const state = res.status === 200 ? info.state : `http-${res.status}`;
    if (!['queued', 'running'].includes(state) || Date.now() > jobsDeadline) {
      jobStates[job.id] = state;
      break;
    }
    await sleep(1000);
  }
}

const viewerFrames = viewers.map((v) => v.peer.received.length);
const whipAlive = (await fetch(`${url}/whep/${streamId}`, { method: 'OPTIONS' })).status === 204 && (await fetch(`${url}/api/streams/${streamId}`)).status !== 404;
publishing = false;
const framesPublished = await publishing$;
for (const v of viewers) {
  await fetch(v.location, { method: 'DELETE' }).catch(() => undefined);
  await v.peer.close();
}
const whipEnd = await fetch(whipResource, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
await publisher.close();
print({
  summary: {
    streamId,
    whipAliveAtEnd: whipAlive,
    whipDeleteStatus: whipEnd.status,
    framesPublished,
    viewerFrames,
    sessions,
    jobs: { uploaded: jobs.length, states: jobStates, errors: jobErrors, tokens: jobs.some((j) => j.token !== undefined) },
  },
});
process.exit(0);
