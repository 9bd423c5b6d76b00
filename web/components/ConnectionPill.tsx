import type { SocketState } from '../lib/use-socket';

const TEXT: Record<SocketState, string> = {
  connecting: 'connecting…',
  connected: 'server connected',
  reconnecting: 'reconnecting…',
  unreachable: 'server unreachable',
};

/** The header's word on the socket to the server. */
export function ConnectionPill({ state }: { state: SocketState }) {
  return (
    <span className={`pill pill-${state}`} data-testid="connection" aria-live="polite">
      <span className="pill-dot" aria-hidden="true" />
      {TEXT[state]}
    </span>
  );
}
