import type { ModelsState } from '../lib/use-models';
import type { ShownError } from '../lib/use-live-studio';
import type { SocketState } from '../lib/use-socket';
import { ErrorBanner } from './ErrorBanner';

interface LiveBannerProps {
  shown: ShownError | null;
  modelsState: ModelsState;
  socketState: SocketState;
  activeModelId: string | null;
  titleOf(id: string | null | undefined): string;
  retryStart(): void;
  reloadModels(): void;
  dismiss(): void;
}

/** The banner slot of the live page: what went wrong, in words, with the way out; null when all is well. */
export function LiveBanner(props: LiveBannerProps) {
  const { shown } = props;
  if (shown) {
    const { error, fatal } = shown;
    const reconnecting = props.socketState !== 'connected';
    const tryAgain = { label: 'Try again', onClick: props.retryStart, testId: 'retry' };
    switch (error.code) {
      case 'CAMERA_DENIED':
        return (
          <ErrorBanner
            title="Camera access is blocked"
            detail="Allow the camera for this site (the camera icon in the address bar), then try again."
            action={tryAgain}
          />
        );
      case 'NO_CAMERA':
        return <ErrorBanner title="No camera found" detail="Connect a camera, then try again." action={tryAgain} />;
      case 'CAMERA_IN_USE':
        return (
          <ErrorBanner
            title="The camera could not start"
            detail="Another app or tab may be using it. Close it, then try again."
            action={tryAgain}
          />
        );
      case 'CAMERA_ENDED':
      case 'CAMERA_FAILED':
        return <ErrorBanner title="The camera stopped" detail={error.message} action={tryAgain} />;
      case 'INSECURE_CONTEXT':
      case 'UNSUPPORTED_BROWSER':
        return <ErrorBanner title="This page can't use the camera here" detail={error.message} />;
      case 'SERVER_BUSY':
        return (
          <ErrorBanner
            title="The server is busy"
            detail="Every translation slot is in use. Try again in a moment."
            action={tryAgain}
          />
        );
      case 'RATE_LIMITED':
        return <ErrorBanner title="Too many sessions from here" detail={`${error.message}. Stop one, then try again.`} action={tryAgain} />;
      case 'MODEL_LOAD_FAILED':
      case 'MODEL_NOT_FOUND':
      case 'PROVIDER_UNAVAILABLE':
        return fatal ? (
          <ErrorBanner
            title={`Couldn't load ${props.titleOf(shown.modelId)}`}
            detail={`${error.message} Pick another model or try again.`}
            action={tryAgain}
          />
        ) : (
          <ErrorBanner
            tone="warning"
            title={`Couldn't load ${props.titleOf(shown.modelId)}`}
            detail={`${error.message} Still translating with ${props.titleOf(props.activeModelId)}.`}
            onDismiss={props.dismiss}
          />
        );
      case 'CONNECTION_LOST':
      case 'SESSION_CLOSED':
      case 'ICE_FAILED':
      case 'TIMEOUT':
      case 'SERVER_UNREACHABLE':
        if (!fatal) break;
        return (
          <ErrorBanner
            title="Connection lost"
            detail={reconnecting ? `${error.message} Reconnecting to the server…` : error.message}
            action={{
              label: reconnecting ? 'Reconnecting…' : 'Reconnect',
              onClick: props.retryStart,
              disabled: reconnecting,
              testId: 'reconnect',
            }}
          />
        );
      default:
        break;
    }
    return fatal ? (
      <ErrorBanner title="Something went wrong" detail={error.message} action={tryAgain} />
    ) : (
      <ErrorBanner tone="warning" title="The server reported a problem" detail={error.message} onDismiss={props.dismiss} />
    );
  }
  if (props.modelsState.kind === 'failed') {
    return (
      <ErrorBanner
        title="Can't reach the cyclestream server"
        detail={`${props.modelsState.error.message} Check that the server is running; this page retries when it comes back.`}
        action={{ label: 'Retry', onClick: props.reloadModels, testId: 'retry' }}
      />
    );
  }
  if (props.modelsState.kind === 'ready' && props.modelsState.models.length === 0) {
    return (
      <ErrorBanner
        tone="warning"
        title="No models installed"
        detail="The server has no models to offer. Add models/<id>.onnx with its manifest, then retry."
        action={{ label: 'Retry', onClick: props.reloadModels, testId: 'retry' }}
      />
    );
  }
  return null;
}
