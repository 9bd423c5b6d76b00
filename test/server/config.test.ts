import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../server/config.js';
import { ConfigError } from '../../server/shared/errors.js';

test('defaults, then env, then CLI flags; the result is frozen', () => {
  const cfg = loadConfig({ env: { PORT: '4000', PROVIDERS: 'webgpu, cpu' }, argv: ['--port', '4100', '--max-sessions=2'], root: '/srv/app' });
  assert.equal(cfg.port, 4100);
  assert.equal(cfg.maxSessions, 2);
  assert.deepEqual(cfg.providers, ['webgpu', 'cpu']);
  assert.equal(cfg.modelsDir, '/srv/app/models');
  assert.equal(cfg.defaultModel, 'horse2zebra-hq');
  assert.ok(Object.isFrozen(cfg));
  assert.throws(() => {
    (cfg as { port: number }).port = 1;
  });
});

test('nested objects and arrays are frozen too, and what overrides passed in is not', () => {
  const iceServers = [{ urls: ['stun:a.example.org', 'stun:b.example.org'], username: 'u' }];
  const cfg = loadConfig({ env: { INGEST_TOKENS: 'ingest-token-1' }, overrides: { iceServers } });
  for (const inner of [cfg.providers, cfg.iceHostAddresses, cfg.ingestTokens, cfg.iceServers, cfg.iceServers[0], cfg.iceServers[0]!.urls]) {
    assert.ok(Object.isFrozen(inner), JSON.stringify(inner));
  }
  assert.throws(() => (cfg.ingestTokens as string[]).push('another-token'), TypeError);
  assert.throws(() => {
    (cfg.iceServers[0] as { username?: string }).username = 'v';
  }, TypeError);
  assert.deepEqual(cfg.iceServers, iceServers);
  assert.ok(!Object.isFrozen(iceServers) && !Object.isFrozen(iceServers[0]) && !Object.isFrozen(iceServers[0]!.urls));
});

test('HOST and ICE servers from the environment', () => {
  const cfg = loadConfig({ env: { HOST: '127.0.0.1', ICE_SERVERS: '[{"urls":"stun:stun.example.org:3478"}]' } });
  assert.equal(cfg.host, '127.0.0.1');
  assert.deepEqual(cfg.iceServers, [{ urls: 'stun:stun.example.org:3478' }]);
});

test('every bad value names its key', () => {
  const cases: [Record<string, string>, string[], string][] = [
    [{ PORT: 'eighty' }, [], 'PORT'],
    [{ PORT: '70000' }, [], 'PORT'],
    [{ PROVIDERS: 'cuda,tpu' }, [], 'PROVIDERS'],
    [{ SMOOTHING: '2' }, [], 'SMOOTHING'],
    [{ ICE_SERVERS: 'not json' }, [], 'ICE_SERVERS'],
    [{ WEB: 'maybe' }, [], 'WEB'],
    [{}, ['--port'], '--port'],
    [{}, ['--no-such-flag', '1'], '--no-such-flag'],
    [{ BROWSER_MIN_BITRATE_KBPS: '3000' }, [], 'BROWSER_START_BITRATE_KBPS'],
  ];
  for (const [env, argv, key] of cases) {
    assert.throws(
      () => loadConfig({ env, argv }),
      (err: unknown) => err instanceof ConfigError && err.key === key && err.message.includes(key),
      `${JSON.stringify(env)} ${argv.join(' ')} should name ${key}`,
    );
  }
});

test('video job settings: defaults, environment and bad values', () => {
  const def = loadConfig({ root: '/srv/app' });
  assert.equal(def.dataDir, '/srv/app/data');
  assert.equal(def.maxUploadMb, 500);
  assert.equal(def.jobConcurrency, 1);
  assert.equal(def.jobTtlHours, 24);
  assert.deepEqual([def.maxVideoWidthPx, def.maxVideoHeightPx], [3840, 2160]);
  const cfg = loadConfig({
    env: { DATA_DIR: '/var/cs', MAX_UPLOAD_MB: '2.5', JOB_CONCURRENCY: '3', JOB_TTL_HOURS: '0.5', MAX_VIDEO_WIDTH_PX: '1280', MAX_VIDEO_HEIGHT_PX: '720' },
    argv: ['--max-image-pixels', '1000000'],
  });
  assert.deepEqual(
    [cfg.dataDir, cfg.maxUploadMb, cfg.jobConcurrency, cfg.jobTtlHours, cfg.maxVideoWidthPx, cfg.maxVideoHeightPx, cfg.maxImagePixels],
    ['/var/cs', 2.5, 3, 0.5, 1280, 720, 1_000_000],
  );
  for (const [env, key] of [[{ JOB_CONCURRENCY: '0' }, 'JOB_CONCURRENCY'], [{ MAX_UPLOAD_MB: 'lots' }, 'MAX_UPLOAD_MB'], [{ MAX_VIDEO_WIDTH_PX: '8' }, 'MAX_VIDEO_WIDTH_PX']] as const) {
    assert.throws(() => loadConfig({ env }), (err: unknown) => err instanceof ConfigError && err.key === key);
  }
});

test('stream access settings: defaults and comma-separated token lists', () => {
  const def = loadConfig();
  assert.deepEqual([def.ingestTokens, def.viewerTokens, def.operatorTokens], [[], [], []]);
  // Same origin only until an operator opens it (EMBED_ORIGINS=*, README).
  assert.deepEqual(def.embedOrigins, []);
  assert.equal(def.maxViewersPerStream, 16);
  assert.equal(def.idleTimeoutMs, 5000);
  const cfg = loadConfig({
    env: {
      INGEST_TOKENS: 'ingest-token-1, ingest-token-2,',
      VIEWER_TOKENS: 'viewer-token',
      OPERATOR_TOKENS: 'operator-token',
      EMBED_ORIGINS: 'https://a.example, http://localhost:8080',
      MAX_VIEWERS_PER_STREAM: '1000',
    },
  });
  assert.deepEqual(cfg.ingestTokens, ['ingest-token-1', 'ingest-token-2']);
  assert.deepEqual(cfg.viewerTokens, ['viewer-token']);
  assert.deepEqual(cfg.operatorTokens, ['operator-token']);
  assert.deepEqual(cfg.embedOrigins, ['https://a.example', 'http://localhost:8080']);
  assert.equal(cfg.maxViewersPerStream, 1000);
  assert.equal(loadConfig({ argv: ['--max-viewers-per-stream', '1'] }).maxViewersPerStream, 1);
});

test('bad stream access settings name their key', () => {
  const cases: [Record<string, string>, string][] = [
    [{ INGEST_TOKENS: 'long-enough-token,short' }, 'INGEST_TOKENS'],
    [{ VIEWER_TOKENS: '1234567' }, 'VIEWER_TOKENS'],
    [{ OPERATOR_TOKENS: 'tiny' }, 'OPERATOR_TOKENS'],
    [{ EMBED_ORIGINS: 'a.example' }, 'EMBED_ORIGINS'],
    [{ EMBED_ORIGINS: 'https://a.example/path' }, 'EMBED_ORIGINS'],
    [{ MAX_VIEWERS_PER_STREAM: '0' }, 'MAX_VIEWERS_PER_STREAM'],
    [{ MAX_VIEWERS_PER_STREAM: '1001' }, 'MAX_VIEWERS_PER_STREAM'],
    [{ MAX_VIEWERS_PER_STREAM: '2.5' }, 'MAX_VIEWERS_PER_STREAM'],
  ];
  for (const [env, key] of cases) {
    assert.throws(
      () => loadConfig({ env }),
      (err: unknown) => err instanceof ConfigError && err.key === key && err.message.includes(key),
      `${JSON.stringify(env)} should name ${key}`,
    );
  }
  assert.equal(loadConfig({ env: { INGEST_TOKENS: '12345678' } }).ingestTokens[0], '12345678', '8 characters are enough');
});

test('job and image limits: safe defaults, environment, and bad values name their key', () => {
  const def = loadConfig({ root: '/srv/app' });
  assert.deepEqual(
    [def.maxJobDurationS, def.maxJobFrames, def.maxQueuedJobs, def.maxQueuedJobsPerClient, def.maxJobTokensPerRequest],
    [600, 18_000, 20, 3, 100],
  );
  assert.deepEqual([def.maxImageAspectRatio, def.maxConcurrentImages, def.maxQueuedImages], [10, 2, 8]);
  const cfg = loadConfig({
    env: { MAX_JOB_DURATION_S: '30.5', MAX_JOB_FRAMES: '900', MAX_QUEUED_JOBS: '5', MAX_QUEUED_JOBS_PER_CLIENT: '1', MAX_IMAGE_ASPECT_RATIO: '4', MAX_QUEUED_IMAGES: '0' },
    argv: ['--max-concurrent-images', '3', '--max-job-tokens-per-request=10'],
  });
  assert.deepEqual(
    [cfg.maxJobDurationS, cfg.maxJobFrames, cfg.maxQueuedJobs, cfg.maxQueuedJobsPerClient, cfg.maxImageAspectRatio, cfg.maxQueuedImages, cfg.maxConcurrentImages, cfg.maxJobTokensPerRequest],
    [30.5, 900, 5, 1, 4, 0, 3, 10],
  );
  for (const [env, key] of [
    [{ MAX_JOB_FRAMES: '0' }, 'MAX_JOB_FRAMES'],
    [{ MAX_QUEUED_JOBS: 'many' }, 'MAX_QUEUED_JOBS'],
    [{ MAX_IMAGE_ASPECT_RATIO: '0.5' }, 'MAX_IMAGE_ASPECT_RATIO'],
    [{ MAX_CONCURRENT_IMAGES: '0' }, 'MAX_CONCURRENT_IMAGES'],
  ] as const) {
    assert.throws(() => loadConfig({ env }), (err: unknown) => err instanceof ConfigError && err.key === key, key);
  }
});
