import { existsSync } from 'node:fs';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebBuildMissingError } from '../shared/errors.js';

export type WebHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;


/**
 * Mounts the production build of web/ (made by `next build web`). Next is imported lazily so
 * API-only servers and tests never load it.
 */
export async function createWebHandler(webDir: string): Promise<{ handle: WebHandler; close(): Promise<void> }> {
  if (!existsSync(path.join(webDir, '.next', 'BUILD_ID'))) {
    throw new WebBuildMissingError(`no web build in ${webDir}/.next: run \`npm run build:web\` (npm start does this for you)`);
  }
  const { default: next } = await import('next');
  const app = next({ dev: false, dir: webDir, quiet: true });
  await app.prepare();
  const handle = app.getRequestHandler();
  return {
    handle: (req, res) => handle(req, res),
    close: async () => {
      await app.close();
    },
  };
}
