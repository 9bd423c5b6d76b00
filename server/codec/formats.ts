/**
 * What an upload is, decided from its own first bytes and never from the name the client gave
 * it: the allow-list of containers the server reads. FFmpeg guessing a format is exactly how a
 * 2 KB file that is both raw H.264 and an HLS playlist once made the runner open a playlist and
 * follow its link to another file on the server's disk, so every input FFmpeg opens goes
 * through here first and is then opened with the one demuxer named here (see container.ts).
 */
import { open } from 'node:fs/promises';
import { InputFormat } from 'node-av';

/** Containers a video job or the CLI accepts. */
export type VideoContainer = 'mp4' | 'mov' | 'matroska' | 'webm';
/** Images the image route and the CLI accept. */
export type ImageContainer = 'jpeg' | 'png' | 'webp';

export interface ContainerInfo<C extends string> {
  readonly container: C;
  /** Extension the stored file gets (input.<ext>), from the detected container. */
  readonly extension: string;
  readonly contentType: string;
}

export const VIDEO_CONTAINERS: Readonly<Record<VideoContainer, ContainerInfo<VideoContainer> & { demuxer: 'mov' | 'matroska' }>> = {
  mp4: { container: 'mp4', extension: '.mp4', contentType: 'video/mp4', demuxer: 'mov' },
  mov: { container: 'mov', extension: '.mov', contentType: 'video/quicktime', demuxer: 'mov' },
  matroska: { container: 'matroska', extension: '.mkv', contentType: 'video/x-matroska', demuxer: 'matroska' },
  webm: { container: 'webm', extension: '.webm', contentType: 'video/webm', demuxer: 'matroska' },
};

export const IMAGE_CONTAINERS: Readonly<Record<ImageContainer, ContainerInfo<ImageContainer>>> = {
  jpeg: { container: 'jpeg', extension: '.jpg', contentType: 'image/jpeg' },
  png: { container: 'png', extension: '.png', contentType: 'image/png' },
  webp: { container: 'webp', extension: '.webp', contentType: 'image/webp' },
};

export const ACCEPTED_VIDEO_TEXT = 'MP4/MOV or Matroska/WebM';

/** Bytes read to decide; enough for an MP4's ftyp, a Matroska EBML header and FFmpeg's naming probe. */
export const HEAD_BYTES = 4096;

export type Sniffed =
  | { kind: 'video'; info: (typeof VIDEO_CONTAINERS)[VideoContainer] }
  | { kind: 'image'; info: ContainerInfo<ImageContainer> }
  /** Recognised, and not accepted; `what` names it for the client. */
  | { kind: 'refused'; what: string }
  /** Nothing recognises it: not media at all. */
  | { kind: 'unknown' };

/** Top-level ISO BMFF boxes a file may start with (QuickTime files may skip ftyp). */
const MP4_FIRST_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide']);

/**
 * Formats whose files name other files or addresses (playlists, scripts, session descriptions)
 * or are elementary streams with no container, named here because FFmpeg's own probe cannot
 * see some of them without the file name this module refuses to use.
 */
function refusedByText(head: Buffer): string | null {
  const text = head.toString('latin1', 0, Math.min(head.length, 512)).replace(/^\uFEFF|^\xEF\xBB\xBF/, '');
  if (text.startsWith('#EXTM3U')) return 'an HLS/M3U playlist';
  if (text.startsWith('ffconcat version')) return 'an FFmpeg concat script';
  if (/^v=0\r?\n/.test(text) && /\n(m|c)=/.test(text)) return 'an SDP session description';
  if (/^\s*<\?xml|^\s*<(MPD|smil|playlist|CompositionPlaylist|svg)\b/i.test(text)) return 'an XML document (manifest, playlist or SVG)';
  if (/^\[(playlist|Reference)\]/i.test(text)) return 'a playlist';
  return null;
}

/** A raw H.264/H.265 Annex B stream starts with a start code: no container, and no name to trust. */
function isAnnexB(head: Buffer): boolean {
  return (head.length >= 4 && head[0] === 0 && head[1] === 0 && ((head[2] === 0 && head[3] === 1) || head[2] === 1));
}

/** Matroska's DocType ("matroska" or "webm") from the EBML header at the start of the file. */
function matroskaDocType(head: Buffer): string | null {
  const end = Math.min(head.length - 2, 64);
  for (let i = 4; i < end; i++) {
    if (head[i] !== 0x42 || head[i + 1] !== 0x82) continue;
    const sizeByte = head[i + 2]!;
    // One-byte EBML size (0x80 | n) covers every DocType in use.
    if ((sizeByte & 0x80) === 0) return null;
    const n = sizeByte & 0x7f;
    return head.toString('latin1', i + 3, Math.min(head.length, i + 3 + n)).replace(/\0+$/, '');
  }
  return null;
}

export function sniffBytes(head: Buffer): Sniffed {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return { kind: 'image', info: IMAGE_CONTAINERS.jpeg };
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    return { kind: 'image', info: IMAGE_CONTAINERS.png };
  }
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') {
    return { kind: 'image', info: IMAGE_CONTAINERS.webp };
  }
  if (head.length >= 12 && head.readUInt32BE(0) >= 8 && MP4_FIRST_BOXES.has(head.toString('latin1', 4, 8))) {
    const brand = head.toString('latin1', 4, 8) === 'ftyp' ? head.toString('latin1', 8, 12) : 'qt  ';
    return { kind: 'video', info: brand === 'qt  ' ? VIDEO_CONTAINERS.mov : VIDEO_CONTAINERS.mp4 };
  }
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) {
    const docType = matroskaDocType(head);
    if (docType === 'webm') return { kind: 'video', info: VIDEO_CONTAINERS.webm };
    if (docType === 'matroska') return { kind: 'video', info: VIDEO_CONTAINERS.matroska };
    return { kind: 'refused', what: `an EBML file of type ${JSON.stringify(docType ?? 'unknown')}` };
  }
  const text = refusedByText(head);
  if (text) return { kind: 'refused', what: text };
  if (isAnnexB(head)) return { kind: 'refused', what: 'a raw video stream with no container' };
  // Anything else FFmpeg would recognise (by content alone, no file name) is named for the message.
  const guess = head.length > 0 ? InputFormat.probe(head) : null;
  if (guess?.name) return { kind: 'refused', what: `${guess.longName ?? guess.name} (${guess.name})` };
  return { kind: 'unknown' };
}

/** The first HEAD_BYTES of a file. */
export async function readHead(path: string, bytes = HEAD_BYTES): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function sniffFile(path: string): Promise<Sniffed> {
  return sniffBytes(await readHead(path));
}

/** Content type for a stored input by its extension (set from the detected container). */
export function storedContentType(fileName: string): string {
  const ext = fileName.slice(fileName.lastIndexOf('.')).toLowerCase();
  const all: ContainerInfo<string>[] = [...Object.values(VIDEO_CONTAINERS), ...Object.values(IMAGE_CONTAINERS)];
  return all.find((c) => c.extension === ext)?.contentType ?? 'application/octet-stream';
}
