/**
 * Issue 12 §3, WHIP ownership and the stream list. Class: one client acting on a stream another
 * client published. A WHIP stream is PATCHed or DELETEd only with the token that created it (kept
 * as a sha256 digest) or an operator token; GET /api/streams, which names every stream, is for
 * operators once any token is configured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp } from '../helpers/app.js';
import { browserOffer, VP8 } from '../server/webrtc/offers.js';

const A = 'ingest-token-publisher-a';
const B = 'ingest-token-publisher-b';
const OPERATOR = 'operator-token-for-tests';

async function publish(url: string, token: string): Promise<string> {
  const res = await fetch(`${url}/whip/invert`, {
    method: 'POST',
    body: browserOffer({ video: [VP8], videoDirection: 'sendonly' }),
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 201, await res.clone().text());
  return `${url}${res.headers.get('location')}`;
}

function patch(resource: string, token?: string): Promise<Response> {
  return fetch(resource, {
    method: 'PATCH',
    body: 'a=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 40000 typ host\r\n',
    headers: { 'content-type': 'application/trickle-ice-sdpfrag', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

function del(resource: string, token?: string): Promise<Response> {
  return fetch(resource, { method: 'DELETE', headers: token ? { authorization: `Bearer ${token}` } : {} });
}

async function code(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

test('a WHIP stream is changed or ended only by the token that created it, or an operator token', { timeout: 60_000 }, async () => {
  const srv = await startTestApp({ ingestTokens: [A, B], operatorTokens: [OPERATOR], maxSessionsPerIp: 4 });
  try {
    const streamA = await publish(srv.url, A);
    const streamB = await publish(srv.url, B);

    assert.equal((await patch(streamA)).status, 401);
    const wrong = await patch(streamA, B);
    assert.equal(wrong.status, 403, 'another publisher may not PATCH it');
    assert.equal(await code(wrong), 'FORBIDDEN');
    assert.equal((await del(streamA, B)).status, 403, 'nor DELETE it');
    assert.equal((await del(streamA, 'not-a-token-at-all')).status, 403);
    assert.equal(srv.app.health().sessions, 2, 'both streams still live');

    assert.equal((await patch(streamA, A)).status, 204, 'its own token may');
    assert.equal((await del(streamA, A)).status, 200);
    assert.equal((await del(streamB, OPERATOR)).status, 200, 'an operator may end any stream');
    assert.equal(srv.app.health().sessions, 0);
    assert.equal((await del(streamB, B)).status, 404, 'gone');
  } finally {
    await srv.close();
  }
});

test('GET /api/streams: open with no tokens at all; closed (403, OPERATOR_TOKENS) once other tokens are set; operators only when set', { timeout: 60_000 }, async () => {
  const open = await startTestApp();
  try {
    assert.equal((await fetch(`${open.url}/api/streams`)).status, 200);
  } finally {
    await open.close();
  }

  const noOperators = await startTestApp({ ingestTokens: [A] });
  try {
    const res = await fetch(`${noOperators.url}/api/streams`, { headers: { authorization: `Bearer ${A}` } });
    assert.equal(res.status, 403, 'an ingest token is not an operator token');
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /OPERATOR_TOKENS/);
  } finally {
    await noOperators.close();
  }

  const operators = await startTestApp({ ingestTokens: [A], operatorTokens: [OPERATOR] });
  try {
    assert.equal((await fetch(`${operators.url}/api/streams`)).status, 401);
    assert.equal((await fetch(`${operators.url}/api/streams`, { headers: { authorization: `Bearer ${A}` } })).status, 403);
    assert.equal((await fetch(`${operators.url}/api/streams`, { headers: { authorization: `Bearer ${OPERATOR}` } })).status, 200);
  } finally {
    await operators.close();
  }
});
