/**
 * The tokens of this browser's own jobs, kept in localStorage: a job is reachable only with
 * its token, so these are what make "my jobs" mine across reloads. Capped at the server's
 * default MAX_JOB_TOKENS_PER_REQUEST, newest kept.
 */
const KEY = 'cyclestream.jobTokens';
const MAX_TOKENS = 100;

type Stored = { id: string; token: string }[];

function read(): Stored {
  try {
    const raw = window.localStorage.getItem(KEY);
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(parsed) ? parsed.filter((e): e is Stored[number] => typeof e?.id === 'string' && typeof e?.token === 'string') : [];
  } catch {
    // Storage switched off (private mode, policy): jobs then last as long as the page.
    return [];
  }
}

function write(entries: Stored): void {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(entries.slice(-MAX_TOKENS)));
  } catch {
    // As above: nothing to keep them in.
  }
}

/** Job id -> token, oldest first. */
export function loadJobTokens(): Map<string, string> {
  return new Map(read().map((e) => [e.id, e.token]));
}

export function saveJobToken(id: string, token: string): void {
  write([...read().filter((e) => e.id !== id), { id, token }]);
}

export function forgetJobTokens(ids: Iterable<string>): void {
  const gone = new Set(ids);
  if (gone.size) write(read().filter((e) => !gone.has(e.id)));
}

/** A job URL that carries its token, for <video src> and download links, which cannot send headers. */
export function withToken(url: string, token: string | undefined): string {
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}
