/**
 * Job events over socket.io go to one room per job, and a socket joins a job's room only by
 * presenting that job's token (`job:watch`): nobody hears about other people's jobs.
 */
import type { Logger } from 'pino';
import { BadRequestError, RateLimitError, asCycleStreamError } from '../shared/errors.js';
import { parseWith } from '../shared/parse.js';
import { unwatchJobSchema, watchJobSchema, type Ack, type JobInfo, type JobProgress } from '../contract/index.js';
import type { SignalingServer } from './handler.js';

/** What the rooms need from the job queue: the job, if the token opens it (else a typed error). */
export interface JobWatchPort {
  authorizeWatch(id: string, token: string): Promise<JobInfo>;
}

const ROOM_PREFIX = 'job:';

export function jobRoom(id: string): string {
  return `${ROOM_PREFIX}${id}`;
}

const parseWatch = parseWith(watchJobSchema, BadRequestError);
const parseUnwatch = parseWith(unwatchJobSchema, BadRequestError);

function safeAck<T>(ack: unknown): Ack<T> {
  return typeof ack === 'function' ? (ack as Ack<T>) : () => {};
}

export interface JobRooms {
  update(job: JobInfo): void;
  progress(p: JobProgress): void;
}

/**
 * Handles `job:watch` / `job:unwatch` on every socket (at most `maxWatchesPerSocket` rooms each)
 * and returns the emitters that send a job's events to its room only.
 */
export function attachJobRooms(io: SignalingServer, jobs: JobWatchPort, logger: Logger, opts: { maxWatchesPerSocket: number }): JobRooms {
  io.on('connection', (socket) => {
    socket.on('job:watch', async (payload, rawAck) => {
      const ack = safeAck<{ job: JobInfo }>(rawAck);
      try {
        const { id, token } = parseWatch(payload);
        const room = jobRoom(id);
        const checkRoom = () => {
          const watching = [...socket.rooms].filter((r) => r.startsWith(ROOM_PREFIX)).length;
          if (!socket.rooms.has(room) && watching >= opts.maxWatchesPerSocket) {
            throw new RateLimitError(`one connection may watch ${opts.maxWatchesPerSocket} jobs at most`, 1);
          }
        };
        checkRoom();
        const job = await jobs.authorizeWatch(id, token);
        // Again: other watches on this socket may have joined while the job was read.
        checkRoom();
        void socket.join(room);
        ack({ ok: true, job });
      } catch (err) {
        const e = asCycleStreamError(err, BadRequestError);
        if (e.status >= 500) logger.warn({ socket: socket.id, err: e.message }, 'job watch failed');
        ack({ ok: false, error: e.toJSON() });
      }
    });
    socket.on('job:unwatch', (payload, rawAck) => {
      const ack = safeAck<object>(rawAck);
      try {
        void socket.leave(jobRoom(parseUnwatch(payload).id));
        ack({ ok: true });
      } catch (err) {
        ack({ ok: false, error: asCycleStreamError(err, BadRequestError).toJSON() });
      }
    });
  });
  return {
    update: (job) => {
      const room = jobRoom(job.id);
      io.to(room).emit('job:update', job);
      // Nothing more will come for a deleted job; its watchers need not stay in the room.
      if (job.state === 'deleted') io.in(room).socketsLeave(room);
    },
    progress: (p) => void io.to(jobRoom(p.id)).emit('job:progress', p),
  };
}
