/** The defaults, and why each is what it is where that is not obvious. */
import path from 'node:path';
import os from 'node:os';
import { PROVIDERS } from './contract/index.js';
import type { ConfigValues } from './config-schema.js';

export function defaultConfig(root: string = process.cwd()): ConfigValues {
  return {
    port: 3000,
    host: '',
    modelsDir: path.join(root, 'models'),
    // The distilled student: at the 160 px its manifest asks for on a CPU (cpuShortSidePx, Auto) it
    // keeps 27 fps through the live pipeline and calls far more of the test horses zebras than the
    // fast model at 256 px (README, Models); on a GPU it runs at the full 256.
    defaultModel: 'horse2zebra-hq',
    showHiddenModels: false,
    maxSessions: 4,
    providers: [...PROVIDERS],
    // Leave a core to decoding, smoothing and encoding, which overlap the model run; the realtime
    // models gain almost nothing from a second thread (bench: 32.1 vs 32.7 model fps on 2 cores).
    intraOpThreads: Math.max(1, Math.min(4, os.availableParallelism() - 1)),
    processingShortSidePx: 256,
    smoothing: 0.5,
    maxInputWidthPx: 1920,
    maxInputHeightPx: 1080,
    // Preferred when the browser offers both: x264 ultrafast encodes a 640x480 frame in about half
    // libvpx's time here (bench: live 640x480 server-added latency p50 34 ms vs 76 ms with VP8).
    videoCodec: 'h264',
    outputBitrateKbps: 1500,
    browserMinBitrateKbps: 600,
    browserStartBitrateKbps: 1500,
    browserMaxBitrateKbps: 2500,
    iceServers: [],
    iceHostAddresses: ['127.0.0.1'],
    // A publisher that vanished without a goodbye is noticed only by its media stopping; viewers
    // must see "offline" within 10 s, so this leaves room for the SSE message and the page.
    idleTimeoutMs: 5_000,
    jitterLatencyMs: 50,
    web: true,
    webDir: path.join(root, 'web'),
    logLevel: 'info',
    dataDir: path.join(root, 'data'),
    maxUploadMb: 500,
    jobConcurrency: 1,
    jobTtlHours: 24,
    maxVideoWidthPx: 3840,
    maxVideoHeightPx: 2160,
    maxImagePixels: 50_000_000,
    ingestTokens: [],
    viewerTokens: [],
    operatorTokens: [],
    // Same origin only; EMBED_ORIGINS=* opens embedding to every site (README, "Embedding").
    embedOrigins: [],
    // Each viewer costs SRTP and a socket send per packet on the main thread, not a model run.
    maxViewersPerStream: 16,
    // On a CPU a batch costs as much as its frames one by one, and sharing one worker would
    // serialize the streams; on a GPU a batch of 8 costs little more than one frame.
    batchAcrossStreams: 'auto',
    maxBatch: 8,
    modelPrecision: 'auto',
    // Ten minutes of video at up to 30 fps: about as long again to translate on 2 CPU cores.
    maxJobDurationS: 600,
    maxJobFrames: 18_000,
    maxQueuedJobs: 20,
    maxQueuedJobsPerClient: 3,
    maxJobTokensPerRequest: 100,
    // Panoramas up to 10:1; a 100000x100 strip is refused before it is decoded.
    maxImageAspectRatio: 10,
    // Each running image holds a generator and a few full-size buffers (up to MAX_IMAGE_PIXELS).
    maxConcurrentImages: 2,
    maxQueuedImages: 8,

    // Live sessions, signaling and connections (issue 12 §3).
    publicUrl: '',
    appOrigins: [],
    // A browser's offer is 4-10 KB with a few hundred lines, 2-3 sections, 30-40 formats in the
    // video one and a handful of candidates; these leave it room and keep a hostile offer cheap.
    maxSdpBytes: 32_768,
    maxSdpMediaSections: 8,
    maxSdpFormatsPerSection: 64,
    maxSdpAttributeLines: 1000,
    maxSdpLineBytes: 4096,
    maxIceCandidatesPerSession: 64,
    // Half the default MAX_SESSIONS: one address cannot take the whole server.
    maxSessionsPerIp: 2,
    maxSocketsPerIp: 16,
    // The page sends a few events a second at most (options while a slider moves, a burst of ICE
    // candidates at start); a model switch per event is what this bounds.
    maxSocketEventsPerS: 20,
    maxSseConnectionsPerStream: 64,
    maxSseConnectionsPerIp: 16,

    // Cluster mode (issue 13).
    redisUrl: '',
    nodeId: os.hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64) || 'node',
    // BullMQ's default lock: a worker busy on one frame for 30 s is still alive.
    jobStalledMs: 30_000,
    // A dead node's streams are gone from listings (and redirects) within 15 s.
    streamTtlMs: 15_000,
  };
}

