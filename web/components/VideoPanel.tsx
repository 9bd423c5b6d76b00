'use client';

import { useEffect, useRef, useState } from 'react';

interface VideoPanelProps {
  label: string;
  detail?: string;
  stream: MediaStream | null;
  testId: string;
  /** Shown over the panel while there is no picture. */
  placeholder: string;
  busy?: boolean;
  mirrored?: boolean;
}

export function VideoPanel({ label, detail, stream, testId, placeholder, busy, mirrored }: VideoPanelProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [hasPicture, setHasPicture] = useState(false);

  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    setHasPicture(false);
    video.srcObject = stream;
    if (stream) {
      // autoPlay covers most browsers; play() covers a srcObject swapped on a playing element.
      video.play().catch(() => undefined);
    }
  }, [stream]);

  const showPicture = stream !== null && hasPicture;

  return (
    <figure className="panel">
      <figcaption className="panel-label">
        <span className="panel-title">{label}</span>
        {detail ? <span className="panel-detail">{detail}</span> : null}
      </figcaption>
      <div className="panel-frame">
        <video
          ref={videoRef}
          data-testid={testId}
          className={mirrored ? 'video mirrored' : 'video'}
          autoPlay
          playsInline
          muted
          onLoadedData={() => setHasPicture(true)}
          onPlaying={() => setHasPicture(true)}
          onEmptied={() => setHasPicture(false)}
        />
        {showPicture ? null : (
          <div className="panel-placeholder" aria-live="polite">
            {busy ? <span className="spinner" aria-hidden="true" /> : null}
            <span>{placeholder}</span>
          </div>
        )}
      </div>
    </figure>
  );
}
