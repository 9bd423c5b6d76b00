/**
 * A tiny site on its own loopback origin for the browser tests: it serves the pages it is given
 * (path -> HTML) and nothing from the cyclestream server, so requests from its pages are
 * cross-origin as they would be on someone else's site.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export async function hostSite(pages: Map<string, string>): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const page = pages.get(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(page ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
