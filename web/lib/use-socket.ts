'use client';

import { useEffect, useState } from 'react';
import { io } from 'socket.io-client';
import type { LiveSocket } from './socket-request';

/** `unreachable` until the first connect succeeds; `reconnecting` after a connection was lost. */
export type SocketState = 'connecting' | 'connected' | 'reconnecting' | 'unreachable';

export interface SocketHandle {
  socket: LiveSocket | null;
  state: SocketState;
}

/** One same-origin socket for the page's lifetime; socket.io retries on its own. */
export function useSocket(): SocketHandle {
  const [handle, setHandle] = useState<SocketHandle>({ socket: null, state: 'connecting' });

  useEffect(() => {
    const socket: LiveSocket = io({ path: '/socket.io' });
    let everConnected = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const set = (state: SocketState) => setHandle({ socket, state });
    set('connecting');

    socket.on('connect', () => {
      everConnected = true;
      set('connected');
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      set('reconnecting');
      // socket.io does not retry by itself after the server kicked this socket out.
      if (reason === 'io server disconnect') socket.connect();
    });
    socket.on('connect_error', () => {
      // A refusal by server middleware stops socket.io's own retries; keep trying, slowly.
      if (!socket.active) {
        clearTimeout(retry);
        retry = setTimeout(() => socket.connect(), 3000);
      }
      set(everConnected ? 'reconnecting' : 'unreachable');
    });

    return () => {
      clearTimeout(retry);
      socket.removeAllListeners();
      socket.disconnect();
    };
  }, []);

  return handle;
}
