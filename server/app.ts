/**
 * Composes the server from a Config: one HTTP server on one port carrying the API, socket.io
 * signaling and the Next.js app. `close()` tears it down in reverse order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Server as IoServer } from 'socket.io';
import type { Config } from './config.js';
import { createInferenceHost, defaultFileModel, listModels, type InferenceHost } from './inference/index.js';
import {
  attachJobRooms,
  attachSignaling,
  gateConnections,
  type JobRooms,
  type SignalingServer,
} from './signaling/index.js';
import type { HealthResponse, ModelSummary } from './contract/index.js';
import { SessionManager, type LiveCodecs } from './session/index.js';
import { SseLimits, createWebHandler, frameAncestors, handleApi, handleMetrics, handleStreamRoutes, sendError, summarize, withJobUrls, type WebHandler } from './http/index.js';
import { JobManager } from './jobs/index.js';
import { NotFoundError, OwnerScope } from './shared/index.js';
import { securitySettings } from './security-settings.js';
import { StreamRegistry, attachRedisAdapter, createNodeMetrics } from './cluster/index.js';

export interface App {
  readonly config: Config;
  readonly sessions: SessionManager;
  readonly jobs: JobManager;
  /** Traces async work to its session, for the process-level crash guard (main.ts). */
  readonly owners: OwnerScope;
  listen(): Promise<{ url: string; port: number }>;
  health(): HealthResponse;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Seams for fault-injection tests: the stages are the real ones, wrapped. */
export interface AppHooks {
  codecs?: LiveCodecs;
  wrapInferenceHost?: (host: InferenceHost) => InferenceHost;
}

export async function createApp(config: Config, logger: Logger, hooks: AppHooks = {}): Promise<App> {
  const startedAt = Date.now();
  logger.info({ security: securitySettings(config) }, 'security settings');
  const owners = new OwnerScope();
  const realHost = createInferenceHost({
    modelsDir: config.modelsDir,
    providers: config.providers,
    intraOpThreads: config.intraOpThreads,
    batchAcrossStreams: config.batchAcrossStreams,
    maxBatch: config.maxBatch,
    precision: config.modelPrecision,
    logger: logger.child({ stage: 'inference' }),
  });
  // Read from the stages when scraped; `sessions` and `jobs` exist by the time anyone scrapes.
  const metrics = createNodeMetrics({
    nodeId: config.nodeId,
    live: { all: () => sessions.all() },
    queueDepth: () => jobs.queueDepth(),
  });
  const host = metrics.timeHost(hooks.wrapInferenceHost ? hooks.wrapInferenceHost(realHost) : realHost);
  const sessions = new SessionManager(config, host, logger.child({ stage: 'session' }), {
    owners,
    ...(hooks.codecs ? { codecs: hooks.codecs } : {}),
  });
  // Job events go only to the sockets watching that job with its token; socket.io is attached further down.
  const jobEvents: { rooms: JobRooms | null } = { rooms: null };
  const jobs = new JobManager({
    config,
    host,
    logger: logger.child({ stage: 'jobs' }),
    onUpdate: (record) => {
      const job = withJobUrls(record);
      metrics.jobUpdated(job);
      jobEvents.rooms?.update(job);
    },
    onProgress: (progress) => jobEvents.rooms?.progress(progress),
  });
  let modelCount = 0;

  const models = async (): Promise<ModelSummary[]> => {
    const listing = await listModels(config.modelsDir);
    for (const bad of listing.invalid) logger.warn({ file: bad.file, err: bad.error.message }, 'invalid model manifest skipped');
    modelCount = listing.models.length;
    return listing.models
      .filter((m) => config.showHiddenModels || !m.hidden)
      .map((m) => ({
        id: m.id,
        title: m.title,
        from: m.domains.from,
        to: m.domains.to,
        architecture: m.architecture,
        params: m.params,
        macsAt256: m.macsAt256,
        kind: m.provenance.kind,
        group: m.group ?? 'other',
        ...(m.summary ? { summary: m.summary } : {}),
        ...(m.cpuShortSidePx !== undefined ? { cpuShortSidePx: m.cpuShortSidePx } : {}),
        metrics: m.metrics,
      }));
  };
  const listed = await models();
  const defaultModel = listed.some((m) => m.id === config.defaultModel) ? config.defaultModel : (listed[0]?.id ?? null);
  if (defaultModel !== config.defaultModel) {
    logger.warn({ wanted: config.defaultModel, using: defaultModel }, 'default model not found in the models folder');
  }

  const health = (): HealthResponse => ({
    // In a cluster a node that cannot reach Redis takes no new work (503 from /api/health too).
    ok: jobs.redisConnected !== false,
    ...(config.redisUrl ? { cluster: { nodeId: config.nodeId, redis: jobs.redisConnected ? ('up' as const) : ('down' as const) } } : {}),
    iceServers: config.iceServers,
    sessions: sessions.size,
    maxSessions: config.maxSessions,
    models: modelCount,
    defaultModel,
    defaultFileModel: defaultFileModel(defaultModel, listed.map((m) => m.id)),
    openCodecs: sessions.counters.codecs,
    openPeers: sessions.counters.peers,
    openModelSessions: host.openSessions(),
    modelRuns: host.modelRuns(),
    uptimeS: Math.round((Date.now() - startedAt) / 1000),
  });

  const web: { handle: WebHandler; close(): Promise<void> } | null = config.web
    ? await createWebHandler(config.webDir).catch(async (err: unknown) => {
        await jobs.close();
        throw err;
      })
    : null;

  // Cluster mode: other nodes find this node's streams here, and send WHEP players to PUBLIC_URL.
  if (config.redisUrl && !config.publicUrl) logger.warn('REDIS_URL without PUBLIC_URL: this node\'s streams are not registered for the other nodes');
  const registry =
    config.redisUrl && config.publicUrl
      ? new StreamRegistry({
          redisUrl: config.redisUrl,
          nodeId: config.nodeId,
          publicUrl: config.publicUrl,
          streamTtlMs: config.streamTtlMs,
          local: () => sessions.all().map((s) => summarize(s, config)),
          log: logger.child({ stage: 'cluster' }),
        })
      : null;

  const embedPolicy = frameAncestors(config.embedOrigins);
  const apiLog = logger.child({ stage: 'http' });
  const sse = new SseLimits(config);
  const server = http.createServer((req, res) => {
    // No response of ours is meant to be sniffed into another type (an upload served as HTML).
    res.setHeader('x-content-type-options', 'nosniff');
    handleMetrics(req, res, { operatorTokens: config.operatorTokens, metrics })
      .then((handled) => handled || handleStreamRoutes(req, res, { config, streams: sessions, sse, ...(registry ? { directory: registry } : {}) }))
      .then((handled) => handled || handleApi(req, res, { health, models, jobs, maxJobTokensPerRequest: config.maxJobTokensPerRequest, logger: apiLog }))
      .then((handled) => {
        if (handled) return;
        if (req.url?.startsWith('/socket.io')) return; // socket.io answers these itself
        // Only the embed page may be framed, and only by the configured origins.
        res.setHeader('content-security-policy', req.url?.startsWith('/embed/') ? embedPolicy : "frame-ancestors 'self'");
        if (web) return web.handle(req, res);
        sendError(res, new NotFoundError('the web app is disabled (WEB=false)'));
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'request failed');
        if (!res.headersSent) sendError(res, err);
      });
  });

  // Short ping interval so a vanished client's session is closed within ~10 s.
  // A message's size is capped near the largest offer it may carry (JSON escapes CR LF: a few bytes per line).
  const maxMessageBytes = 2 * config.maxSdpBytes + 16_384;
  const io: SignalingServer = new IoServer(server, { pingInterval: 4000, pingTimeout: 4000, maxHttpBufferSize: maxMessageBytes, serveClient: false });
  gateConnections(io, {
    maxSocketsPerIp: config.maxSocketsPerIp,
    appOrigins: config.appOrigins,
    publicUrl: config.publicUrl,
    logger: logger.child({ stage: 'signaling' }),
  });
  // Cluster mode: room broadcasts (job progress) reach sockets on every node.
  const clusterIo = config.redisUrl ? attachRedisAdapter(io, config.redisUrl) : null;
  attachSignaling(io, sessions, logger.child({ stage: 'signaling' }), { maxEventsPerS: config.maxSocketEventsPerS });
  jobEvents.rooms = attachJobRooms(io, { authorizeWatch: async (id, token) => withJobUrls(await jobs.authorizeWatch(id, token)) }, logger.child({ stage: 'signaling' }), { maxWatchesPerSocket: config.maxJobTokensPerRequest });

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      await sessions.close();
      await registry?.close();
      await jobs.close();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await clusterIo?.close();
      await host.close();
      await web?.close();
      server.closeAllConnections?.();
    })();
    return closing;
  };

  return {
    config,
    sessions,
    jobs,
    owners,
    health,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        const onListening = () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          const shown = config.host === '' || config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
          resolve({ url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${addr.port}`, port: addr.port });
        };
        if (config.host) server.listen(config.port, config.host, onListening);
        else server.listen(config.port, onListening);
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
