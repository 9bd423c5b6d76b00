'use client';

import { useRef, useState, type DragEvent } from 'react';

interface DropZoneProps {
  file: File | null;
  accept: string;
  kind: 'video' | 'image';
  disabled?: boolean;
  onFile(file: File): void;
}

/** A file picker that also takes a file dropped on it. */
export function DropZone({ file, accept, kind, disabled, onFile }: DropZoneProps) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);

  const onDrop = (e: DragEvent<HTMLDivElement>) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    const dropped = e.dataTransfer.files[0];
    if (dropped) onFile(dropped);
  };

  return (
    <div
      className={`dropzone${over ? ' dropzone-over' : ''}${disabled ? ' dropzone-disabled' : ''}`}
      data-testid="dropzone"
      role="button"
      tabIndex={disabled ? -1 : 0}
      aria-disabled={disabled}
      onClick={() => !disabled && input.current?.click()}
      onKeyDown={(e) => {
        if (!disabled && (e.key === 'Enter' || e.key === ' ')) {
          e.preventDefault();
          input.current?.click();
        }
      }}
      onDragOver={(e) => {
        e.preventDefault();
        if (!disabled) setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <input
        ref={input}
        type="file"
        accept={accept}
        data-testid="upload-input"
        className="dropzone-input"
        disabled={disabled}
        onClick={(e) => e.stopPropagation()}
        onChange={(e) => {
          const chosen = e.target.files?.[0];
          if (chosen) onFile(chosen);
          // Choosing the same file again must fire change again.
          e.target.value = '';
        }}
      />
      {file ? (
        <>
          <span className="dropzone-title" data-testid="upload-file">
            {file.name}
          </span>
          <span className="dropzone-hint">{formatSize(file.size)} · click or drop to choose another</span>
        </>
      ) : (
        <>
          <span className="dropzone-title">Drop a {kind} here, or click to choose one</span>
          <span className="dropzone-hint">
            {kind === 'video' ? 'MP4, WebM, MOV, MKV: H.264, HEVC, VP8, VP9 or MPEG-4 video' : 'JPEG, PNG or WebP'}
          </span>
        </>
      )}
    </div>
  );
}

function formatSize(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1024))} kB`;
}
