import type { Metadata } from 'next';
import Script from 'next/script';

export const metadata: Metadata = {
  title: 'cyclestream – live',
  description: 'A live CycleGAN translation, streamed over WebRTC.',
  // Viewer pages are per-session and short-lived; nothing for a search index.
  robots: { index: false, follow: false },
};

interface EmbedPageProps {
  params: Promise<{ streamId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}

/**
 * The page behind the iframe snippet: only the player, filling the viewport. It lives outside
 * the (site) route group so the site nav stays out of other people's pages.
 */
export default async function EmbedPage({ params, searchParams }: EmbedPageProps) {
  const { streamId: rawId } = await params;
  const { token } = await searchParams;
  const viewerToken = typeof token === 'string' && token !== '' ? token : undefined;
  const streamId = decodeSegment(rawId);
  return (
    <main className="embed">
      <cyclestream-player className="embed-player" stream={streamId} token={viewerToken} data-testid="embed-player" />
      {/* The element upgrades whenever the script lands; until then the black box is the right placeholder. */}
      <Script src="/cyclestream-player.js" strategy="afterInteractive" />
    </main>
  );
}

/** Dynamic segments arrive still percent-encoded; the player encodes the id again for its URLs. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
