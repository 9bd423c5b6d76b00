/**
 * Access rules of the streaming routes, on fake requests and responses: presentedToken (header,
 * malformed header, ?token= only when allowed), requireToken (open / closed when no tokens, 401,
 * 403, ok), originAllowed (no Origin, '*', listed, own host, others), applyCors and frameAncestors.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { applyCors, frameAncestors, originAllowed, presentedToken, requireToken } from '../../../server/http/access.js';
import { ForbiddenError, UnauthorizedError } from '../../../server/shared/errors.js';

/** Only `headers` is read from the request. */
function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

/** Only setHeader is called on the response; names are recorded as given. */
function res(): ServerResponse & { headers: Map<string, string> } {
  const headers = new Map<string, string>();
  return {
    headers,
    setHeader(name: string, value: string) {
      headers.set(name, value);
      return this;
    },
  } as unknown as ServerResponse & { headers: Map<string, string> };
}

const TOKEN = 'a-long-enough-token';
const url = (query = '') => new URL(`http://stream.local:3000/whep/abc${query}`);

describe('presentedToken', () => {
  it('takes the bearer token from the Authorization header', () => {
    assert.equal(presentedToken(req({ authorization: `Bearer ${TOKEN}` }), url(), false), TOKEN);
    assert.equal(presentedToken(req({ authorization: `bearer  ${TOKEN} ` }), url(), false), TOKEN);
  });

  it('gives an empty string for a malformed header, even with ?token=', () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${TOKEN} extra`, TOKEN]) {
      assert.equal(presentedToken(req({ authorization: header }), url(`?token=${TOKEN}`), true), '', header);
    }
  });

  it('takes ?token= only when allowed', () => {
    assert.equal(presentedToken(req({}), url(`?token=${TOKEN}`), true), TOKEN);
    assert.equal(presentedToken(req({}), url(`?token=${TOKEN}`), false), null);
    assert.equal(presentedToken(req({}), url(), true), null);
  });

  it('prefers the header over ?token=', () => {
    assert.equal(presentedToken(req({ authorization: 'Bearer from-header' }), url('?token=from-query'), true), 'from-header');
  });
});

describe('requireToken', () => {
  const allowed = ['first-token-1', TOKEN];

  it('lets everyone in when no tokens are configured', () => {
    assert.doesNotThrow(() => requireToken(null, [], 'playback'));
    assert.doesNotThrow(() => requireToken('anything', [], 'playback'));
  });

  it('is switched off when no tokens are configured and closedWhenEmpty', () => {
    assert.throws(() => requireToken(null, [], 'WHIP ingest', { closedWhenEmpty: true }), UnauthorizedError);
    assert.throws(() => requireToken(TOKEN, [], 'WHIP ingest', { closedWhenEmpty: true }), (err: unknown) => {
      assert.ok(err instanceof ForbiddenError);
      assert.equal(err.status, 403);
      assert.match(err.message, /WHIP ingest is switched off/);
      assert.match(err.message, /INGEST_TOKENS/);
      return true;
    });
  });

  it('401 without a token', () => {
    for (const token of [null, '']) {
      assert.throws(() => requireToken(token, allowed, 'playback'), (err: unknown) => {
        assert.ok(err instanceof UnauthorizedError);
        assert.equal(err.status, 401);
        assert.equal(err.code, 'UNAUTHORIZED');
        assert.match(err.message, /playback needs "Authorization: Bearer <token>"/);
        return true;
      });
    }
  });

  it('403 with a wrong token, including one of another length or a prefix', () => {
    for (const token of ['wrong-token-xx', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase()]) {
      assert.throws(() => requireToken(token, allowed, 'playback'), (err: unknown) => {
        assert.ok(err instanceof ForbiddenError, token);
        assert.equal(err.code, 'FORBIDDEN');
        assert.doesNotMatch(err.message, new RegExp(TOKEN), 'does not echo a configured token');
        return true;
      });
    }
  });

  it('passes with any configured token', () => {
    assert.doesNotThrow(() => requireToken(TOKEN, allowed, 'playback'));
    assert.doesNotThrow(() => requireToken('first-token-1', allowed, 'playback', { closedWhenEmpty: true }));
  });
});

describe('originAllowed', () => {
  const listed = ['https://a.example', 'http://b.example:8080'];

  it('allows requests without an Origin (not a browser page), or with Origin: null', () => {
    assert.equal(originAllowed(req({ host: 'stream.local' }), listed), true);
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'null' }), listed), true);
  });

  it("allows any origin with '*'", () => {
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'https://evil.example' }), ['*']), true);
  });

  it('allows listed origins, exactly', () => {
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'https://a.example' }), listed), true);
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'http://b.example:8080' }), listed), true);
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'http://a.example' }), listed), false, 'other scheme');
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'http://b.example' }), listed), false, 'other port');
  });

  it("allows the server's own pages", () => {
    assert.equal(originAllowed(req({ host: 'stream.local:3000', origin: 'http://stream.local:3000' }), []), true);
    assert.equal(originAllowed(req({ host: 'stream.local:3000', origin: 'http://stream.local:4000' }), []), false);
  });

  it('refuses other and unparsable origins', () => {
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'https://evil.example' }), listed), false);
    assert.equal(originAllowed(req({ host: 'stream.local', origin: 'not a url' }), listed), false);
    assert.equal(originAllowed(req({ origin: 'https://evil.example' }), []), false, 'no Host header');
  });
});

describe('applyCors', () => {
  const policy = { methods: 'POST, PATCH, DELETE, OPTIONS', exposeHeaders: 'location, etag' };

  it("sends access-control-allow-origin '*' for '*', without Vary", () => {
    const r = res();
    applyCors(req({ host: 'stream.local', origin: 'https://x.example' }), r, { ...policy, origins: ['*'] });
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.equal(r.headers.has('vary'), false);
    assert.equal(r.headers.get('access-control-allow-methods'), policy.methods);
    assert.equal(r.headers.get('access-control-expose-headers'), 'location, etag');
    assert.match(r.headers.get('access-control-allow-headers')!, /authorization/);
    assert.equal(r.headers.get('access-control-max-age'), '600');
  });

  it('echoes a listed origin with Vary: Origin', () => {
    const r = res();
    applyCors(req({ host: 'stream.local', origin: 'https://a.example' }), r, { ...policy, origins: ['https://a.example'] });
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://a.example');
    assert.equal(r.headers.get('vary'), 'Origin');
  });

  it('sends no allow-origin for other origins or without an Origin', () => {
    for (const headers of [{ host: 'stream.local', origin: 'https://evil.example' }, { host: 'stream.local' }] as Record<string, string>[]) {
      const r = res();
      applyCors(req(headers), r, { methods: 'POST', origins: ['https://a.example'] });
      assert.equal(r.headers.has('access-control-allow-origin'), false);
      assert.equal(r.headers.get('access-control-allow-methods'), 'POST');
      assert.equal(r.headers.has('access-control-expose-headers'), false);
    }
  });
});

describe('frameAncestors', () => {
  it("is '*' with '*', else 'self' and the listed origins", () => {
    assert.equal(frameAncestors(['*']), 'frame-ancestors *');
    assert.equal(frameAncestors(['https://a.example', '*']), 'frame-ancestors *');
    assert.equal(frameAncestors(['https://a.example', 'http://b.example:8080']), "frame-ancestors 'self' https://a.example http://b.example:8080");
    assert.equal(frameAncestors([]), "frame-ancestors 'self'");
  });
});
