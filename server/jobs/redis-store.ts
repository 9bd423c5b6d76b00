/**
 * Job records in Redis (cluster mode): every node reads and writes the same records, so
 * GET /api/jobs/<id>, the result download and the queue limits answer alike on any node.
 *
 * One hash per job: the fields that never change in `fixed` (JSON, so the probe's numbers
 * come back exactly), the ones that do as fields of their own, so the Lua scripts below move a
 * job between states atomically (queued -> running only if still queued, and so on) without
 * decoding JSON. Indexes: every job by sequence (`all`, newest first in lists), queued jobs by
 * sequence, active (queued or running) ids with a count per client, ended jobs by end time
 * (expiry), and token hash -> id.
 *
 * Durability is Redis's: run it with `appendonly yes` (README, "Cluster mode"), or a restart of
 * Redis forgets every job.
 */
import { Redis } from 'ioredis';
import type { JobSource, JobState } from '../contract/index.js';
import { StoreError, asCycleStreamError } from '../shared/errors.js';
import type { VideoProbe } from './probe.js';
import type { JobRecords } from './records.js';
import type { JobRow, NewJob } from './store.js';

const P = 'cyclestream:jobs:';
const K = {
  job: (id: string) => `${P}job:${id}`,
  seq: `${P}seq`,
  all: `${P}all`,
  queued: `${P}queued`,
  active: `${P}active`,
  perClient: `${P}active-per-client`,
  ended: `${P}ended`,
  tokens: `${P}tokens`,
};

/** The fields kept as JSON in `fixed`. */
type Fixed = Omit<JobRow, 'state' | 'framesDone' | 'framesTotal' | 'attempts' | 'errorCode' | 'errorMessage' | 'resultBytes' | 'startedAtMs' | 'finishedAtMs'>;

/**
 * Moves a job whose state is one of ARGV[1] (space-separated) to ARGV[2], adds ARGV[3] to its
 * attempts, sets the field/value pairs from ARGV[4] on and keeps the indexes in step. Returns 1,
 * or 0 when the job is missing or in another state.
 * KEYS: job, queued, active, per-client counts, ended.
 */
const TRANSITION = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
local allowed = false
for s in string.gmatch(ARGV[1], '%S+') do if s == state then allowed = true end end
if not allowed then return 0 end
local to = ARGV[2]
redis.call('HSET', KEYS[1], 'state', to)
if ARGV[3] ~= '0' then redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[3]) end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
local id = redis.call('HGET', KEYS[1], 'id')
if to == 'queued' then redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[1], 'seq'), id) else redis.call('ZREM', KEYS[2], id) end
if to == 'done' or to == 'failed' or to == 'cancelled' then
  if redis.call('SREM', KEYS[3], id) == 1 then
    local client = redis.call('HGET', KEYS[1], 'client')
    if client then redis.call('HINCRBY', KEYS[4], client, -1) end
  end
  redis.call('ZADD', KEYS[5], redis.call('HGET', KEYS[1], 'finishedAtMs'), id)
end
return 1
`;

/** Deletes a job and its index entries. KEYS: job, queued, active, per-client counts, ended, all, tokens. */
const DELETE = `
local id = redis.call('HGET', KEYS[1], 'id')
if not id then return 0 end
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[5], id)
redis.call('ZREM', KEYS[6], id)
if redis.call('SREM', KEYS[3], id) == 1 then
  local client = redis.call('HGET', KEYS[1], 'client')
  if client then redis.call('HINCRBY', KEYS[4], client, -1) end
end
local token = redis.call('HGET', KEYS[1], 'tokenHash')
if token then redis.call('HDEL', KEYS[7], token) end
redis.call('DEL', KEYS[1])
return 1
`;

/** Redis errors (unreachable, a failed script) reach callers as StoreError: 503, as the SQLite store's do. */
async function storeErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asCycleStreamError(err, StoreError);
  }
}

const num = (v: string | undefined): number | null => (v === undefined ? null : Number(v));

function fromHash(h: Record<string, string>): JobRow | null {
  if (!h.fixed) return null;
  const fixed = JSON.parse(h.fixed) as Fixed & { source: JobSource; probe: VideoProbe };
  return {
    ...fixed,
    state: h.state as JobState,
    framesDone: Number(h.framesDone ?? 0),
    framesTotal: Number(h.framesTotal ?? 0),
    attempts: Number(h.attempts ?? 0),
    errorCode: h.errorCode ?? null,
    errorMessage: h.errorMessage ?? null,
    resultBytes: num(h.resultBytes),
    startedAtMs: num(h.startedAtMs),
    finishedAtMs: num(h.finishedAtMs),
  };
}

export class RedisJobStore implements JobRecords {
  /** No offline queue: while Redis is down a call fails at once (StoreError, 503) instead of waiting. */
  readonly #redis: Redis;
  #closed = false;

  constructor(redisUrl: string) {
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    // ioredis reconnects by itself; calls meanwhile reject, and their callers handle that.
    this.#redis.on('error', () => undefined);
  }

  /** Whether Redis answers now; the cluster's health and intake ask (with the queue's own connection). */
  get reachable(): boolean {
    return this.#redis.status === 'ready';
  }

  async #transition(id: string, from: string, to: JobState, attempts: number, fields: (string | number)[] = []): Promise<boolean> {
    const keys = [K.job(id), K.queued, K.active, K.perClient, K.ended];
    return (await this.#redis.eval(TRANSITION, keys.length, ...keys, from, to, attempts, ...fields)) === 1;
  }

  insert(job: NewJob): Promise<JobRow> {
    return storeErrors(async () => {
      const seq = await this.#redis.incr(K.seq);
      const { framesTotal, ...rest } = job;
      const fixed: Fixed = rest;
      const hash: Record<string, string | number> = { id: job.id, fixed: JSON.stringify(fixed), state: 'queued', seq, framesDone: 0, framesTotal, attempts: 0 };
      if (job.client !== null) hash.client = job.client;
      if (job.tokenHash !== null) hash.tokenHash = job.tokenHash;
      const tx = this.#redis.multi().hset(K.job(job.id), hash).zadd(K.all, seq, job.id).zadd(K.queued, seq, job.id).sadd(K.active, job.id);
      if (job.client !== null) tx.hincrby(K.perClient, job.client, 1);
      if (job.tokenHash !== null) tx.hset(K.tokens, job.tokenHash, job.id);
      const results = await tx.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw failed?.[0] ?? new Error('the job record was not written');
      return (await this.get(job.id))!;
    });
  }

  get(id: string): Promise<JobRow | null> {
    return storeErrors(async () => {
      return fromHash(await this.#redis.hgetall(K.job(id)));
    });
  }

  async #rows(ids: string[]): Promise<JobRow[]> {
    if (ids.length === 0) return [];
    const pipe = this.#redis.pipeline();
    for (const id of ids) pipe.hgetall(K.job(id));
    const out = (await pipe.exec()) ?? [];
    return out.map(([, h]) => fromHash((h ?? {}) as Record<string, string>)).filter((r): r is JobRow => r !== null);
  }

  list(limit = 200): Promise<JobRow[]> {
    return storeErrors(async () => {
      return this.#rows(await this.#redis.zrevrange(K.all, 0, limit - 1));
    });
  }

  listByTokenHashes(hashes: readonly string[], limit = 200): Promise<JobRow[]> {
    return storeErrors(async () => {
      if (hashes.length === 0) return [];
      const ids = (await this.#redis.hmget(K.tokens, ...hashes)).filter((id): id is string => id !== null);
      const rows = await this.#rows([...new Set(ids)]);
      const seqs = new Map((await this.#seqs(rows.map((r) => r.id))).map((s, i) => [rows[i]!.id, s]));
      return rows.sort((a, b) => seqs.get(b.id)! - seqs.get(a.id)!).slice(0, limit);
    });
  }

  async #seqs(ids: string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    return (await this.#redis.zmscore(K.all, ...ids)).map((s) => Number(s ?? 0));
  }

  countActive(client?: string): Promise<number> {
    return storeErrors(async () => {
      if (client === undefined) return this.#redis.scard(K.active);
      return Number((await this.#redis.hget(K.perClient, client)) ?? 0);
    });
  }

  markRunning(id: string, nowMs: number): Promise<boolean> {
    return storeErrors(async () => {
      return this.#transition(id, 'queued', 'running', 1, ['startedAtMs', nowMs, 'framesDone', 0]);
    });
  }

  saveProgress(id: string, framesDone: number, framesTotal: number): Promise<void> {
    return storeErrors(async () => {
      await this.#transition(id, 'running', 'running', 0, ['framesDone', framesDone, 'framesTotal', framesTotal]);
    });
  }

  isRunning(id: string): Promise<boolean> {
    return storeErrors(async () => {
      return (await this.#redis.hget(K.job(id), 'state')) === 'running';
    });
  }

  queuedIds(limit = 1000): Promise<string[]> {
    return storeErrors(async () => {
      return this.#redis.zrange(K.queued, '0', String(limit - 1));
    });
  }

  markDone(id: string, nowMs: number, resultBytes: number, framesDone: number): Promise<boolean> {
    return storeErrors(async () => {
      return this.#transition(id, 'running', 'done', 0, ['finishedAtMs', nowMs, 'resultBytes', resultBytes, 'framesDone', framesDone, 'framesTotal', framesDone]);
    });
  }

  markFailed(id: string, nowMs: number, code: string, message: string): Promise<void> {
    return storeErrors(async () => {
      await this.#transition(id, 'queued running', 'failed', 0, ['finishedAtMs', nowMs, 'errorCode', code, 'errorMessage', message]);
    });
  }

  markCancelled(id: string, nowMs: number): Promise<boolean> {
    return storeErrors(async () => {
      return this.#transition(id, 'queued running', 'cancelled', 0, ['finishedAtMs', nowMs]);
    });
  }

  requeue(id: string): Promise<void> {
    return storeErrors(async () => {
      await this.#transition(id, 'running', 'queued', 0, ['framesDone', 0]);
    });
  }

  expired(cutoffMs: number): Promise<string[]> {
    return storeErrors(async () => {
      return this.#redis.zrangebyscore(K.ended, '-inf', `(${cutoffMs}`);
    });
  }

  delete(id: string): Promise<void> {
    return storeErrors(async () => {
      const keys = [K.job(id), K.queued, K.active, K.perClient, K.ended, K.all, K.tokens];
      await this.#redis.eval(DELETE, keys.length, ...keys);
    });
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
  }
}
