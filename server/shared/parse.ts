/**
 * The one way client input is checked: a zod schema at the boundary, before any work, and the
 * first problem as a named error class (BAD_REQUEST for socket and HTTP bodies, MANIFEST_INVALID
 * for a model manifest). The message names the field, never a server path.
 */
import type { z } from 'zod';
import type { CycleStreamError } from './errors.js';

export type ErrorClass = new (message: string) => CycleStreamError;

/**
 * A parser for `schema` that throws `ErrorClass` with "<field>: <problem>". `whole` names the
 * value itself when the problem is not in one field; `context` (e.g. the manifest's name) leads.
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  ErrorClass: ErrorClass,
  whole = 'payload',
): (value: unknown, context?: string) => z.output<S> {
  return (value, context) => {
    const res = schema.safeParse(value);
    if (res.success) return res.data;
    const issue = res.error.issues[0];
    const where = issue?.path.join('.') || whole;
    throw new ErrorClass(`${context ? `${context}: ` : ''}${where}: ${issue?.message ?? 'invalid'}`);
  };
}
