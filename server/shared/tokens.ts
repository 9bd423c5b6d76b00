/**
 * Capability tokens: random, kept only as SHA-256 hashes, and compared hash to hash so neither
 * the comparison's time nor a length check says anything about the secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes (256 bits), base64url: safe in a header, a query string and localStorage. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of a token: what is stored and compared. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time equality of two hex hashes (always 32 bytes each, so no length to leak). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/** Whether `token` is one of `allowed`, comparing hashes against every entry. */
export function tokenIsOneOf(token: string, allowed: readonly string[]): boolean {
  const given = hashToken(token);
  let ok = false;
  for (const candidate of allowed) if (sameHash(given, hashToken(candidate))) ok = true;
  return ok;
}
