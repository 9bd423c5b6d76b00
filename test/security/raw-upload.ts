/**
 * A multipart upload by hand that sends its head (and the form fields, before or after the
 * file part) plus the first bytes of the file, then holds the rest back until the server has
 * answered or a fallback wait is over. An answer that arrives while the body is still held back
 * proves the server refused before it could have stored the upload.
 */
import { request } from 'node:http';

export interface HeldUpload {
  status: number | null;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** True when the server answered before the whole body had been sent. */
  answeredEarly: boolean;
  error?: string;
}

export function heldUpload(
  url: string,
  opts: { fields: Record<string, string>; fieldsAfterFile?: boolean; fileBytes: number; localAddress?: string; path?: string; fallbackMs?: number },
): Promise<HeldUpload> {
  const boundary = 'cyclestream-held-upload';
  const fieldParts = Object.entries(opts.fields)
    .map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join('');
  const fileHead = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="clip.mp4"\r\ncontent-type: video/mp4\r\n\r\n`;
  const head = Buffer.from(opts.fieldsAfterFile ? fileHead : fieldParts + fileHead);
  const file = Buffer.alloc(opts.fileBytes, 7);
  const tail = Buffer.from(`\r\n${opts.fieldsAfterFile ? fieldParts : ''}--${boundary}--\r\n`);
  const u = new URL(opts.path ?? '/api/jobs', url);
  return new Promise((resolve) => {
    let sentAll = false;
    let settled = false;
    const done = (v: HeldUpload) => {
      if (!settled) resolve(v);
      settled = true;
      clearTimeout(fallback);
    };
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: 'POST',
        localAddress: opts.localAddress,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      },
      (res) => {
        const early = !sentAll;
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          done({ status: res.statusCode ?? null, headers: res.headers, body, answeredEarly: early });
          req.destroy();
        });
      },
    );
    req.on('error', (e) => done({ status: null, headers: {}, body: null, answeredEarly: !sentAll, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.write(Buffer.concat([head, file.subarray(0, Math.min(file.length, 64 * 1024))]));
    // Only if the server never answers: send the rest, so the test ends with what it did do.
    const fallback = setTimeout(() => {
      sentAll = true;
      req.end(Buffer.concat([file.subarray(64 * 1024), tail]));
    }, opts.fallbackMs ?? 10_000);
  });
}
