/**
 * Who may see a job: whoever presents its token, or an operator token. Tokens are compared as
 * SHA-256 hashes in constant time (shared/tokens.ts); a wrong token and a missing job get the
 * same 404, so a token tells nothing about other jobs.
 */
import { JobNotFoundError, UnauthorizedError } from '../shared/errors.js';
import { hashToken, sameHash } from '../shared/tokens.js';
import type { JobRow } from './store.js';

export interface JobCredentials {
  /** Job tokens the caller presented (Authorization, ?token=, X-Job-Tokens). */
  readonly tokens: readonly string[];
  /** One of them is an operator token: every job is visible. */
  readonly operator: boolean;
}

/** The row, if the credentials open it; else UnauthorizedError (no token at all) or JobNotFoundError. */
export function authorizeRow(row: JobRow | null, id: string, creds: JobCredentials): JobRow {
  if (creds.operator && row) return row;
  if (creds.tokens.length === 0) {
    throw new UnauthorizedError('this job needs its token: "Authorization: Bearer <token>" (or ?token= on a download link)');
  }
  const stored = row?.tokenHash;
  let ok = false;
  // Every presented token is hashed and compared, so the time taken does not depend on which matched.
  for (const t of creds.tokens) if (stored && sameHash(hashToken(t), stored)) ok = true;
  if (!row || !ok) throw new JobNotFoundError(`no job ${id} for this token`);
  return row;
}
