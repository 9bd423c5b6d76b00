/**
 * A second werift peer that plays the browser in loopback tests: it offers a sendrecv video
 * transceiver (plus, optionally, an audio one), sends frames through our RtpVideoWriter and
 * depacketizes what comes back with werift's own receive chain.
 */
import {
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  PictureLossIndication,
  useAbsSendTime,
  useH264,
  useOPUS,
  useSdesMid,
  useTransportWideCC,
  useVP8,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift';
import { DepacketizeCallback, JitterBufferCallback, RtpSourceCallback } from 'werift/nonstandard';
import type { VideoCodecName } from '../../../server/contract/index.js';
import { RtpVideoWriter } from '../../../server/webrtc/rtp-writer.js';

export interface ReceivedByBrowser {
  data: Buffer;
  keyframe: boolean;
}

export class BrowserPeer {
  readonly pc: RTCPeerConnection;
  readonly video: RTCRtpTransceiver;
  readonly received: ReceivedByBrowser[] = [];
  /** PLIs our server sent for the browser's outgoing stream. */
  plisFromServer = 0;
  /** performance.now() when the first complete frame arrived. */
  firstFrameAt: number | undefined;
  private writer: RtpVideoWriter | undefined;
  private readonly chains: { destroy: () => void }[] = [];

  /**
   * `direction` is the video transceiver's: 'sendrecv' plays the webcam page, 'sendonly' a WHIP
   * publisher, 'recvonly' a WHEP viewer.
   */
  constructor(options: { codecs: (VideoCodecName)[]; audio?: boolean; direction?: 'sendrecv' | 'sendonly' | 'recvonly' }) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv6: false,
      // With the default max-compat, werift gathers one transport per section for the offer and
      // never closes the ones BUNDLE makes redundant (their sockets outlive pc.close()).
      bundlePolicy: 'max-bundle',
      codecs: {
        audio: [useOPUS()],
        video: options.codecs.map((c) => (c === 'vp8' ? useVP8() : useH264())),
      },
      headerExtensions: { audio: [], video: [useSdesMid(), useAbsSendTime(), useTransportWideCC()] },
    });
    if (options.audio) this.pc.addTransceiver('audio', { direction: 'sendrecv' });
    this.video = this.pc.addTransceiver('video', { direction: options.direction ?? 'sendrecv' });
    this.video.onTrack.subscribe((track) => {
      const codecName = (track.codec?.name ?? 'VP8').toUpperCase() === 'H264' ? 'MPEG4/ISO/AVC' : 'VP8';
      const source = new RtpSourceCallback();
      const jitter = new JitterBufferCallback(90000, { latency: 100 });
      const depacketizer = new DepacketizeCallback(codecName, { isFinalPacketInSequence: (h) => h.marker });
      source.pipe(jitter.input);
      jitter.pipe(depacketizer.input);
      depacketizer.pipe((out) => {
        if (!out.frame) return;
        this.firstFrameAt ??= performance.now();
        this.received.push({ data: out.frame.data, keyframe: out.frame.isKeyframe });
      });
      track.onReceiveRtp.subscribe((rtp) => source.input(rtp));
      this.chains.push(source, jitter, depacketizer);
    });
    const onRtcp = (packet: RtcpPacket) => {
      if (packet.type !== RtcpPayloadSpecificFeedback.type) return;
      const fb = (packet as RtcpPayloadSpecificFeedback).feedback;
      if (fb.count === PictureLossIndication.count && fb.mediaSsrc === this.video.sender.ssrc) this.plisFromServer += 1;
    };
    this.video.receiver.onRtcp.subscribe(onRtcp);
    this.video.sender.onRtcp.subscribe(onRtcp);
  }

  async createOffer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    if (this.pc.iceGatheringState !== 'complete') {
      await this.pc.iceGatheringStateChange.watch((s) => s === 'complete');
    }
    return this.pc.localDescription!.sdp;
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  async connected(): Promise<void> {
    if (this.pc.connectionState === 'connected') return;
    await this.pc.connectionStateChange.watch((s) => s === 'connected');
  }

  async sendFrame(codec: VideoCodecName, frame: { data: Buffer; ptsMs: number }): Promise<void> {
    this.writer ??= new RtpVideoWriter({ codec });
    for (const packet of this.writer.write(frame)) await this.video.sender.sendRtp(packet);
  }

  async sendPli(mediaSsrc: number): Promise<void> {
    await this.video.receiver.sendRtcpPLI(mediaSsrc);
  }

  /** werift 0.24.4 does not export its FullIntraRequest class, so the FIR is serialized by hand (RFC 5104 §4.3.1). */
  async sendFir(mediaSsrc: number): Promise<void> {
    const fir = {
      type: 206,
      serialize: () => {
        const buf = Buffer.alloc(20);
        buf[0] = 0x80 | 4;
        buf[1] = 206;
        buf.writeUInt16BE(4, 2);
        buf.writeUInt32BE(this.video.sender.ssrc, 4);
        buf.writeUInt32BE(0, 8);
        buf.writeUInt32BE(mediaSsrc, 12);
        buf[16] = 1;
        return buf;
      },
    };
    await this.video.receiver.dtlsTransport.sendRtcp([fir as unknown as RtcpPacket]);
  }

  async close(): Promise<void> {
    for (const chain of this.chains) chain.destroy();
    await this.pc.close();
  }
}
