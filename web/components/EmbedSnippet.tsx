'use client';

import { useEffect, useRef, useState, type RefObject } from 'react';

interface EmbedSnippetProps {
  /** The live session id, which is also the stream id viewers connect to. */
  streamId: string;
}

type CopyTarget = 'link' | 'iframe' | 'player' | 'whep';

const COPIED_FOR_MS = 2000;

/** Attribute values in the snippets are pasted into other people's HTML, so they are escaped. */
function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function EmbedSnippet({ streamId }: EmbedSnippetProps) {
  // Only rendered once a session is live, which never happens during server rendering.
  const origin = typeof window === 'undefined' ? '' : window.location.origin;
  const path = encodeURIComponent(streamId);
  const viewerUrl = `${origin}/embed/${path}`;
  const whepUrl = `${origin}/whep/${path}`;
  const iframeSnippet = `<iframe src="${escapeAttr(viewerUrl)}" width="640" height="360" allow="autoplay; fullscreen" style="border:0" title="cyclestream live"></iframe>`;
  const playerSnippet = `<script src="${escapeAttr(origin)}/cyclestream-player.js"></script>\n<cyclestream-player stream="${escapeAttr(streamId)}" server="${escapeAttr(origin)}"></cyclestream-player>`;

  const linkRef = useRef<HTMLAnchorElement>(null);
  const iframeRef = useRef<HTMLTextAreaElement>(null);
  const playerRef = useRef<HTMLTextAreaElement>(null);
  const whepRef = useRef<HTMLInputElement>(null);

  const [copied, setCopied] = useState<CopyTarget | null>(null);
  const [selected, setSelected] = useState<CopyTarget | null>(null);

  useEffect(() => {
    if (!copied) return;
    const timer = setTimeout(() => setCopied(null), COPIED_FOR_MS);
    return () => clearTimeout(timer);
  }, [copied]);

  const copy = async (target: CopyTarget, text: string, el: RefObject<HTMLElement | null>) => {
    try {
      // Missing on plain http:// pages other than localhost, and refused without permission.
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(text);
      setSelected(null);
      setCopied(target);
    } catch {
      if (el.current) selectContents(el.current);
      setCopied(null);
      setSelected(target);
    }
  };

  const label = (target: CopyTarget) => (copied === target ? 'Copied' : selected === target ? 'Selected' : 'Copy');

  return (
    <section className="share" data-testid="share-panel" aria-label="Share this stream">
      <div className="share-head">
        <h2 className="section-title">Share this stream</h2>
        <span className="muted">Anyone with the link watches the translated video while this session is live.</span>
      </div>

      <div className="share-row">
        <span className="share-label">Viewer page</span>
        <a ref={linkRef} className="share-link" href={viewerUrl} target="_blank" rel="noopener noreferrer" data-testid="embed-link">
          {viewerUrl}
        </a>
        <CopyButton label={label('link')} onClick={() => void copy('link', viewerUrl, linkRef)} testId="copy-embed-link" />
      </div>

      <div className="share-field">
        <label className="share-label" htmlFor="share-iframe">
          Embed with an iframe
        </label>
        <div className="share-code">
          <textarea id="share-iframe" ref={iframeRef} className="share-textarea" readOnly rows={2} value={iframeSnippet} spellCheck={false} data-testid="embed-snippet" onFocus={(e) => e.currentTarget.select()} />
          <CopyButton label={label('iframe')} onClick={() => void copy('iframe', iframeSnippet, iframeRef)} testId="copy-embed-snippet" />
        </div>
      </div>

      <div className="share-field">
        <label className="share-label" htmlFor="share-player">
          Embed with the web component
        </label>
        <div className="share-code">
          <textarea id="share-player" ref={playerRef} className="share-textarea" readOnly rows={2} value={playerSnippet} spellCheck={false} data-testid="player-snippet" onFocus={(e) => e.currentTarget.select()} />
          <CopyButton label={label('player')} onClick={() => void copy('player', playerSnippet, playerRef)} testId="copy-player-snippet" />
        </div>
      </div>

      <div className="share-row">
        <label className="share-label" htmlFor="share-whep">
          WHEP URL
        </label>
        <input id="share-whep" ref={whepRef} className="share-input" readOnly value={whepUrl} spellCheck={false} data-testid="whep-url" onFocus={(e) => e.currentTarget.select()} />
        <CopyButton label={label('whep')} onClick={() => void copy('whep', whepUrl, whepRef)} testId="copy-whep-url" />
      </div>
      <p className="muted">Any standard WHEP player can play the stream from this URL.</p>
    </section>
  );
}

function CopyButton({ label, onClick, testId }: { label: string; onClick: () => void; testId: string }) {
  return (
    <button type="button" className="button button-secondary share-copy" onClick={onClick} data-testid={testId} aria-live="polite">
      {label}
    </button>
  );
}

/** The clipboard fallback: leave the text selected so the user can copy it by hand. */
function selectContents(el: HTMLElement): void {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
    el.focus();
    el.select();
    return;
  }
  const selection = window.getSelection();
  if (!selection) return;
  const range = document.createRange();
  range.selectNodeContents(el);
  selection.removeAllRanges();
  selection.addRange(range);
}
