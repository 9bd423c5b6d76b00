import type { Socket } from 'socket.io-client';
import { ClientError } from './client-error';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from './contract';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * Emits with an ack and turns the server's `{ ok, error }` answer into a promise. socket.io
 * keeps an ack pending forever when the socket drops, so a disconnect and a timer end the wait.
 */
export function request<T>(socket: LiveSocket, send: (ack: Ack<T>) => void, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
    };
    const onDisconnect = () => {
      if (settled) return;
      finish();
      reject(new ClientError('CONNECTION_LOST', 'The connection to the server was lost.'));
    };
    const timer = setTimeout(() => {
      if (settled) return;
      finish();
      reject(new ClientError('TIMEOUT', 'The server did not answer in time.'));
    }, timeoutMs);
    socket.on('disconnect', onDisconnect);
    send((res) => {
      if (settled) return;
      finish();
      if (res.ok) resolve(res as T);
      else reject(new ClientError(res.error.code, res.error.message));
    });
  });
}

/** Resolves once the socket is connected; socket.io keeps retrying on its own meanwhile. */
export function waitForSocket(socket: LiveSocket, timeoutMs: number): Promise<void> {
  if (socket.connected) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off('connect', onConnect);
      reject(new ClientError('SERVER_UNREACHABLE', 'Could not connect to the server.'));
    }, timeoutMs);
    const onConnect = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.once('connect', onConnect);
  });
}
