/**
 * Same-origin and allow-listed origins, for CORS, embedding and socket.io alike. A page's own
 * origin is recognised by the Host header its request went to, or by PUBLIC_URL.
 */
export function isOwnOrigin(origin: string, host: string | undefined, publicUrl = ''): boolean {
  try {
    const parsed = new URL(origin);
    return (host !== undefined && parsed.host === host) || (publicUrl !== '' && parsed.origin === new URL(publicUrl).origin);
  } catch {
    return false;
  }
}

/** The origin is the server's own, listed, or the list holds '*'. */
export function isAllowedOrigin(origin: string, host: string | undefined, allowed: readonly string[], publicUrl = ''): boolean {
  return allowed.includes('*') || allowed.includes(origin) || isOwnOrigin(origin, host, publicUrl);
}
