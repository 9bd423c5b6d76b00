/**
 * The WebRTC stage against real headless Chromium (skipped when /usr/bin/chromium is missing):
 * a browser offer with audio, video and a data channel is answered; Chromium's frames arrive
 * (its padding-only probes dropped on the way); Chromium decodes what our packetizers send;
 * Chromium's PLIs reach onKeyframeRequest.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { chromiumAvailable, launchChromium } from '../../helpers/browser.js';
import { ANSWER_STREAM_ID, createPeerSession, type EncodedVideoFrame, type KeyframeRequestSource } from '../../../server/webrtc/index.js';
import { encodeFrames } from './encode.js';
import { sendEncodedFrame } from './peer-helpers.js';

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Runs in the page: a canvas camera and an oscillator microphone, offered with a data channel. */
async function browserOffer(): Promise<string> {
  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 240;
  const ctx = canvas.getContext('2d')!;
  let n = 0;
  setInterval(() => {
    ctx.fillStyle = `hsl(${n % 360},80%,50%)`;
    ctx.fillRect(0, 0, 320, 240);
    ctx.fillStyle = '#fff';
    ctx.fillRect(n++ % 300, 50, 20, 20);
  }, 33);
  const camera = canvas.captureStream(30);
  const audio = new AudioContext();
  const mic = audio.createMediaStreamDestination();
  const osc = audio.createOscillator();
  osc.connect(mic);
  osc.start();
  const pc = new RTCPeerConnection();
  const w = window as unknown as { pc: RTCPeerConnection; streams: string[][] };
  w.pc = pc;
  w.streams = [];
  pc.ontrack = (e) => {
    w.streams.push(e.streams.map((s) => s.id));
  };
  pc.addTrack(mic.stream.getAudioTracks()[0]!, camera);
  pc.addTrack(camera.getVideoTracks()[0]!, camera);
  pc.createDataChannel('control');
  await pc.setLocalDescription();
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
  });
  return pc.localDescription!.sdp;
}

async function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let decoded = 0;
    const pc = (window as unknown as { pc: RTCPeerConnection }).pc;
    (await pc.getStats()).forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') decoded = s.framesDecoded ?? 0;
    });
    return decoded;
  });
}

describe('PeerSession with headless Chromium', { skip: !chromiumAvailable() && 'no /usr/bin/chromium' }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  for (const codec of ['vp8', 'h264'] as const) {
    it(`${codec}: answer accepted, frames both ways, PLIs both ways`, { timeout: 60_000 }, async (t) => {
      const page = await browser.newPage();
      const offerSdp = await page.evaluate(browserOffer);
      await using session = await createPeerSession({ offerSdp, preferCodec: codec, idleTimeoutMs: 0 });
      assert.equal(session.codec, codec);
      const answerError = await page.evaluate(async (sdp) => {
        try {
          await (window as unknown as { pc: RTCPeerConnection }).pc.setRemoteDescription({ type: 'answer', sdp });
          return '';
        } catch (err) {
          return String(err);
        }
      }, session.answerSdp);
      assert.equal(answerError, '', 'Chromium accepts the answer (rejected audio, bundled video, data channel)');

      const received: EncodedVideoFrame[] = [];
      session.onFrame((f) => received.push(f));
      await until('30 frames from Chromium', () => received.length >= 30);
      assert.ok(received[0]!.keyframe, 'the first frame out is a key frame');
      assert.ok(received.every((f) => f.codec === codec && f.data.length > 0));
      const stats = session.stats();
      assert.equal(stats.plisSent >= 1, true, 'stream start asked for a key frame');
      t.diagnostic(`padding-only packets dropped: ${stats.paddingDropped}, packets in: ${stats.packetsIn}`);
      assert.deepEqual(
        await page.evaluate(() => (window as unknown as { streams: string[][] }).streams),
        [[ANSWER_STREAM_ID]],
      );

      const requests: KeyframeRequestSource[] = [];
      session.onKeyframeRequest((s) => requests.push(s));
      const outgoing = encodeFrames({ codec, width: 320, height: 240, count: 40, forceKeyframes: [10] });
      // Delta frames without their key frame: Chromium cannot decode them and sends PLIs.
      for (const frame of outgoing.slice(1, 10)) {
        await sendEncodedFrame(session, frame);
        await sleep(33);
      }
      await until('a PLI from Chromium', () => requests.includes('pli'));
      for (const frame of outgoing.slice(10)) {
        assert.equal(await sendEncodedFrame(session, frame), true);
        await sleep(33);
      }
      await until('Chromium decoded our frames', async () => (await framesDecoded(page)) >= 25);
      await page.close();
    });
  }
});
