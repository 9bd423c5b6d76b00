'use client';

import { useCallback, useRef, useState } from 'react';
import { ClientError } from './client-error';

const CAMERA_CONSTRAINTS: MediaStreamConstraints = {
  video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 30 } },
  audio: false,
};

async function openCamera(): Promise<MediaStream> {
  if (typeof window !== 'undefined' && !window.isSecureContext) {
    throw new ClientError('INSECURE_CONTEXT', 'The camera is only available on https:// or localhost.');
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new ClientError('UNSUPPORTED_BROWSER', 'This browser cannot open a camera.');
  }
  return navigator.mediaDevices.getUserMedia(CAMERA_CONSTRAINTS);
}

/**
 * The page's camera stream. It outlives sessions, so a restart after a lost connection does
 * not ask for the camera again.
 */
export function useCamera() {
  const [localStream, setLocalStream] = useState<MediaStream | null>(null);
  const streamRef = useRef<MediaStream | null>(null);

  const release = useCallback(() => {
    streamRef.current?.getTracks().forEach((t) => t.stop());
    streamRef.current = null;
    setLocalStream(null);
  }, []);

  /** The open stream while its video still runs; null when the camera has to be opened (again). */
  const live = useCallback((): MediaStream | null => {
    const stream = streamRef.current;
    return stream && stream.getVideoTracks().some((t) => t.readyState === 'live') ? stream : null;
  }, []);

  /**
   * Opens the camera. Resolves null when `stillWanted` says the page moved on during the
   * prompt; rejects with the browser's error when it cannot open. `onEnded` fires when the
   * camera itself stops (unplugged, revoked), not on release().
   */
  const open = useCallback(
    async (stillWanted: () => boolean, onEnded: () => void): Promise<MediaStream | null> => {
      release();
      const opened = await openCamera();
      if (!stillWanted()) {
        opened.getTracks().forEach((t) => t.stop());
        return null;
      }
      streamRef.current = opened;
      setLocalStream(opened);
      for (const track of opened.getVideoTracks()) {
        track.addEventListener('ended', () => {
          if (streamRef.current === opened) onEnded();
        });
      }
      return opened;
    },
    [release],
  );

  /** For unmount: stops the tracks without touching state. */
  const stopTracks = useCallback(() => {
    streamRef.current?.getTracks().forEach((t) => t.stop());
    streamRef.current = null;
  }, []);

  return { localStream, live, open, release, stopTracks };
}
