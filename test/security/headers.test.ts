/**
 * Issue 12 §3, headers, messages and safe defaults. Classes:
 * - headers that echo what the client sent: Link never carries the Host header (PUBLIC_URL or a
 *   relative reference), and no response may be sniffed into another type (nosniff);
 * - messages that reveal the server: errors reach HTTP and socket.io clients through one policy
 *   (server/shared/errors.ts publicError), unknown errors as INTERNAL, server paths cut out;
 * - tokens compared by their sha256 digests, so length and timing tell nothing;
 * - defaults that are open without saying so: EMBED_ORIGINS is same-origin only by default, and
 *   the effective security settings are logged in one line at start-up.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { pino } from 'pino';
import { connect, startTestApp } from '../helpers/app.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { browserOffer, VP8 } from '../server/webrtc/offers.js';
import { start } from './helpers.js';
import { hashToken, tokenHashEquals, tokenMatches } from '../../server/http/access.js';
import { BadRequestError, ModelLoadError, publicError, redactServerPaths } from '../../server/shared/errors.js';
import { defaultConfig } from '../../server/config.js';
import type { InferenceHost } from '../../server/inference/index.js';

const TOKEN = 'ingest-token-header-tests';
const whipOffer = () => browserOffer({ video: [VP8], videoDirection: 'sendonly' });

/** A raw request, so the Host header can be anything a client likes. */
function request(url: string, opts: { method: string; path: string; headers: Record<string, string>; body?: string }): Promise<http.IncomingMessage & { body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${opts.path}`, { method: opts.method, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(Object.assign(res, { body })));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('Link and Location never echo the Host header: relative without PUBLIC_URL, PUBLIC_URL with it', { timeout: 60_000 }, async () => {
  for (const publicUrl of ['', 'https://stream.example.com']) {
    const srv = await startTestApp({ ingestTokens: [TOKEN], publicUrl, maxSessionsPerIp: 4 });
    try {
      const whip = await request(srv.url, {
        method: 'POST',
        path: '/whip/invert',
        headers: { host: 'evil.example', 'x-forwarded-proto': 'https', 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` },
        body: whipOffer(),
      });
      assert.equal(whip.statusCode, 201, whip.body);
      const id = whip.headers['x-stream-id'] as string;
      const link = whip.headers.link as string;
      assert.doesNotMatch(link, /evil\.example/);
      assert.match(link, new RegExp(`^<${publicUrl}/api/streams/${id}>; rel="describedby"`));
      assert.equal(whip.headers.location, `/whip/invert/${id}`);

      const whep = await request(srv.url, {
        method: 'POST',
        path: `/whep/${id}`,
        headers: { host: 'evil.example', 'content-type': 'application/sdp' },
        body: browserOffer({ video: [{ pt: 102, name: 'H264', fmtp: 'packetization-mode=1;profile-level-id=42e01f' }], videoDirection: 'recvonly' }),
      });
      assert.equal(whep.statusCode, 201, whep.body);
      assert.doesNotMatch(whep.headers.link as string, /evil\.example/);
      assert.match(whep.headers.link as string, new RegExp(`^<${publicUrl}/api/streams/${id}/events>`));
    } finally {
      await srv.close();
    }
  }
});

test('X-Content-Type-Options: nosniff on API, stream, error and socket.io responses', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [TOKEN] });
  try {
    const whip = await fetch(`${srv.url}/whip/invert`, { method: 'POST', body: whipOffer(), headers: { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` } });
    const id = whip.headers.get('x-stream-id');
    const events = new AbortController();
    const responses = [
      whip,
      await fetch(`${srv.url}/api/health`),
      await fetch(`${srv.url}/api/models`),
      await fetch(`${srv.url}/api/no-such-route`),
      await fetch(`${srv.url}/whip/invert`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/sdp' } }),
      await fetch(`${srv.url}/api/streams/${id}`),
      await fetch(`${srv.url}/api/streams/${id}/events`, { signal: events.signal }),
      await fetch(`${srv.url}/embed/${id}`),
      await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`),
    ];
    events.abort();
    for (const res of responses) assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
  } finally {
    await srv.close();
  }
});

test('error messages never reveal server paths, and unknown errors are INTERNAL, on socket.io and HTTP alike', { timeout: 60_000 }, async () => {
  // A model that fails to load: ORT's message names the model file and its own source files.
  const srv = await startTestApp({ ingestTokens: [TOKEN] });
  const socket = await connect(srv.url);
  try {
    const res = await start(socket, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'broken' });
    assert.equal(!res.ok && res.error.code, 'MODEL_LOAD_FAILED');
    const message = !res.ok ? res.error.message : '';
    assert.ok(!message.includes(REPO_ROOT), message);
    assert.doesNotMatch(message, /\/onnxruntime_src\/|\.onnx\b/);
    const whip = await fetch(`${srv.url}/whip/broken`, { method: 'POST', body: whipOffer(), headers: { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` } });
    assert.equal(whip.status, 500);
    assert.ok(!(await whip.text()).includes(REPO_ROOT));
  } finally {
    socket.disconnect();
    await srv.close();
  }

  // An error of no known class (a bug): its message stays in the log.
  const buggy = await startTestApp({ ingestTokens: [TOKEN] }, {
    wrapInferenceHost: (host: InferenceHost): InferenceHost => ({
      ...host,
      loadModel: async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'x') at /var/lib/cyclestream/app.js:12");
      },
    }),
  });
  const s2 = await connect(buggy.url);
  try {
    const res = await start(s2, { offerSdp: browserOffer({ video: [VP8] }), modelId: 'invert' });
    assert.deepEqual(!res.ok && res.error, { code: 'INTERNAL', message: 'internal server error' });
    const whip = await fetch(`${buggy.url}/whip/invert`, { method: 'POST', body: whipOffer(), headers: { 'content-type': 'application/sdp', authorization: `Bearer ${TOKEN}` } });
    assert.equal(whip.status, 500);
    assert.deepEqual(await whip.json(), { error: { code: 'INTERNAL', message: 'internal server error' } });
  } finally {
    s2.disconnect();
    await buggy.close();
  }
});

describe('the error policy', () => {
  it('cuts server paths out of messages, and leaves URL paths and media types alone', () => {
    const cases: [string, string][] = [
      ['cpu: Load model from /work/main/models/x.onnx failed:Protobuf', 'cpu: Load model from <server path> failed:Protobuf'],
      ['webgpu: /onnxruntime_src/core/webgpu_context.cc:136 failed', 'webgpu: <server path>:136 failed'],
      ["open 'C:\\srv\\models\\a.onnx'", "open '<server path>'"],
      ['see file:///home/u/x.json', 'see <server path>'],
      ['no route GET /api/nope/x', 'no route GET /api/nope/x'],
      ['no WHIP session invert/abc at /whip/invert/abc', 'no WHIP session invert/abc at /whip/invert/abc'],
      ['expected Content-Type application/sdp, got text/plain', 'expected Content-Type application/sdp, got text/plain'],
      ['the limit is 1920x1080 (MAX_INPUT_WIDTH_PX)', 'the limit is 1920x1080 (MAX_INPUT_WIDTH_PX)'],
    ];
    for (const [input, want] of cases) assert.equal(redactServerPaths(input), want);
  });

  it('keeps codes and statuses of known errors, masks the rest', () => {
    assert.deepEqual(publicError(new BadRequestError('bad')), { status: 400, code: 'BAD_REQUEST', message: 'bad', internal: false });
    assert.equal(publicError(new ModelLoadError('x at /tmp/a/b')).message, 'x at <server path>');
    assert.deepEqual(publicError(new Error('/etc/passwd')), { status: 500, code: 'INTERNAL', message: 'internal server error', internal: true });
    assert.deepEqual(publicError('a string'), { status: 500, code: 'INTERNAL', message: 'internal server error', internal: true });
  });
});

describe('token comparison', () => {
  it('compares sha256 digests, whatever the lengths', () => {
    const t = 'a-configured-token';
    assert.equal(hashToken(t).length, 64);
    assert.equal(tokenHashEquals(t, hashToken(t)), true);
    for (const other of ['', 'a', t.slice(0, -1), `${t}x`, t.toUpperCase(), 'x'.repeat(10_000)]) {
      assert.equal(tokenHashEquals(other, hashToken(t)), false, other.slice(0, 20));
      assert.equal(tokenMatches(other, [t, 'another-token-1']), false);
    }
    assert.equal(tokenMatches(t, ['another-token-1', t]), true);
    assert.equal(tokenHashEquals(t, 'not hex'), false, 'a malformed digest never matches');
  });
});

test('safe defaults: same-origin embedding, and the effective security settings in one start-up line', { timeout: 60_000 }, async () => {
  assert.deepEqual(defaultConfig().embedOrigins, []);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const srv = await startTestApp({ ingestTokens: [TOKEN], viewerTokens: ['viewer-token-xyz'] }, {}, logger);
  try {
    const embed = await fetch(`${srv.url}/embed/abc`);
    assert.equal(embed.headers.get('content-security-policy'), "frame-ancestors 'self'");
    const settings = lines.map((l) => JSON.parse(l) as { msg: string; security?: Record<string, unknown> }).filter((l) => l.msg === 'security settings');
    assert.equal(settings.length, 1, 'one line');
    const security = settings[0]!.security!;
    assert.equal(security.embedOrigins, 'same origin only');
    assert.equal(security.socketOrigins, 'same origin only');
    assert.equal(security.streamList, 'closed (no OPERATOR_TOKENS)');
    assert.equal(security.whipIngest, '1 token(s)');
    assert.equal(security.maxSessionsPerIp, 2);
    const line = lines.find((l) => l.includes('security settings'))!;
    assert.ok(!line.includes(TOKEN) && !line.includes('viewer-token-xyz'), 'no token in the log');
  } finally {
    await srv.close();
  }
});
