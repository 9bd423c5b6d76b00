/**
 * Socket.io across nodes: the Redis adapter publishes every room broadcast (job progress in
 * the per-job rooms included) to the other nodes, so a browser connected to any node gets it.
 * The adapter needs two connections of its own: one subscribed, one publishing.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Server } from 'socket.io';

export interface ClusterSignaling {
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

// `any`: the app passes its typed SignalingServer, and the adapter does not care about event types.
export function attachRedisAdapter(io: Server<any, any, any, any>, redisUrl: string): ClusterSignaling {
  const pub = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const sub = pub.duplicate();
  // ioredis reconnects by itself; broadcasts while Redis is down reach this node's sockets only.
  pub.on('error', () => undefined);
  sub.on('error', () => undefined);
  io.adapter(createAdapter(pub, sub, { key: 'cyclestream-io' }));
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      pub.disconnect();
      sub.disconnect();
    })();
    return closing;
  };
  return { close, [Symbol.asyncDispose]: close };
}
