/**
 * SECURITY.md "PAR" (P1–P9) over real HTTP against the demo realm: the
 * pushed authorization request endpoint (RFC 9126) and the authorization
 * endpoint's handling of `request_uri`. Requests are built by hand, so nothing
 * a client library would tidy up hides a gap in the server. RAR rows (D1–D5,
 * R5) are in security-rar.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { pageKind, readForm, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { basic, call, expectError, field, post, type Reply } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const ASSISTANT = basic(DEMO.assistant.id, DEMO.assistant.secret);
/** RFC 7636 §4.1–4.2: a 43–128 character verifier; the S256 challenge is 43 base64url characters. */
const VERIFIER = 'palisade-security-par-test-verifier-0123456789-abcdefgh';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const STATE = 'st-par-9Qz';
/** RFC 9126 §2.2 URN prefix + 43 base64url characters = 256 bits (P4 asks for at least 128). */
const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/;
const CLI_REDIRECT = 'http://127.0.0.1/callback';

/** A valid pushed request of the assistant; a string replaces a parameter, null removes it. */
function pushForm(overrides: Readonly<Record<string, string | null>> = {}): Record<string, string> {
  const all: Record<string, string | null> = {
    response_type: 'code',
    redirect_uri: DEMO.assistant.redirectUri,
    scope: 'openid',
    state: STATE,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== null));
}

const get = (url: URL | string, init: RequestInit = {}): Promise<Response> => fetch(url, { redirect: 'manual', ...init });

/** The front channel's request: client_id and request_uri, plus whatever else a test smuggles in. */
function authorizeUrl(issuer: string, requestUri: string, params: Readonly<Record<string, string | null>> = {}): URL {
  const url = new URL('/authorize', issuer);
  for (const [name, value] of Object.entries({ client_id: DEMO.assistant.id, request_uri: requestUri, ...params }))
    if (value !== null) url.searchParams.append(name, value);
  return url;
}

/** Accepted: the browser is sent to this IdP's own login interaction, never to the client. */
function expectAccepted(response: Response): void {
  assert.equal(response.status, 303);
  assert.match(response.headers.get('location') ?? '', /^\/interaction\/[A-Za-z0-9_-]+$/);
}

/** RFC 9126 §4 refusal: 303 to the client's single registered redirect URI, with error and iss (RFC 9207) but no state. */
function expectRequestUriRefused(response: Response, issuer: string, redirectUri: string = DEMO.assistant.redirectUri): void {
  assert.equal(response.status, 303);
  const location = new URL(response.headers.get('location') ?? 'about:missing-location');
  assert.equal(`${location.origin}${location.pathname}`, redirectUri);
  assert.equal(location.searchParams.get('error'), 'invalid_request_uri');
  assert.deepEqual(location.searchParams.getAll('iss'), [issuer]);
  for (const absent of ['state', 'code', 'access_token', 'id_token']) assert.equal(location.searchParams.has(absent), false, absent);
}

/** No trustworthy redirect: a 400 HTML error page and no Location header. */
async function expectErrorPage(response: Response, text: RegExp): Promise<void> {
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  assert.equal(pageKind(html), 'error');
  assert.match(html, text);
}

describe('SECURITY P1–P9: pushed authorization requests (RFC 9126)', () => {
  let server: TestIdp;
  let par: string;
  before(async () => {
    server = await startTestIdp();
    par = `${server.issuer}/par`;
  });
  after(() => server.close());

  /** Pushes a valid request and returns its request_uri. */
  async function pushed(overrides: Readonly<Record<string, string | null>> = {}, authorization: string = ASSISTANT): Promise<string> {
    const reply = await post(par, pushForm(overrides), authorization);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return field(reply, 'request_uri');
  }

  const METHODS: readonly { name: string; form: Record<string, string>; auth?: string; redirectUri: string }[] = [
    { name: 'client_secret_basic (assistant)', form: pushForm(), auth: ASSISTANT, redirectUri: DEMO.assistant.redirectUri },
    {
      name: 'client_secret_post (assistant)',
      form: pushForm({ client_id: DEMO.assistant.id, client_secret: DEMO.assistant.secret }),
      redirectUri: DEMO.assistant.redirectUri,
    },
    {
      name: 'none, by client_id alone (public palisade-cli)',
      form: pushForm({ client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT }),
      redirectUri: CLI_REDIRECT,
    },
  ];
  for (const method of METHODS) {
    it(`P9: a valid push with ${method.name} → 201 with a request_uri URN and expires_in 90, not cached (RFC 9126 §2.2)`, async () => {
      const reply = await post(par, method.form, method.auth);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.deepEqual(Object.keys(reply.body).sort(), ['expires_in', 'request_uri']);
      assert.match(field(reply, 'request_uri'), REQUEST_URI);
      assert.equal(reply.body.expires_in, 90);
      assert.equal(reply.headers.get('cache-control'), 'no-store');
      assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
      const clientId = method.form.client_id ?? DEMO.assistant.id;
      expectAccepted(await get(authorizeUrl(server.issuer, field(reply, 'request_uri'), { client_id: clientId })));
    });
  }

  it('P9: openid-client pushes and the front channel carries only client_id and request_uri (RFC 9126 §4)', async () => {
    const request = await authorizationRequest(await assistant(server.issuer));
    assert.deepEqual([...request.url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
    assert.match(request.url.searchParams.get('request_uri') ?? '', REQUEST_URI);
    expectAccepted(await get(request.url));
  });

  it('P1: a request_uri used twice → invalid_request_uri (RFC 9126 §4, §7.3)', async () => {
    const requestUri = await pushed();
    expectAccepted(await get(authorizeUrl(server.issuer, requestUri)));
    expectRequestUriRefused(await get(authorizeUrl(server.issuer, requestUri)), server.issuer);
    const form = new URLSearchParams({ client_id: DEMO.assistant.id, request_uri: requestUri });
    expectRequestUriRefused(await get(new URL('/authorize', server.issuer), { method: 'POST', body: form }), server.issuer);
  });

  it('P1: parallel redemptions of one request_uri → exactly one accepted, the other invalid_request_uri (RFC 9126 §4, §7.3)', async () => {
    const requestUri = await pushed();
    const responses = await Promise.all([1, 2, 3].map(() => get(authorizeUrl(server.issuer, requestUri))));
    const accepted = responses.filter((r) => (r.headers.get('location') ?? '').startsWith('/interaction/'));
    assert.equal(accepted.length, 1);
    for (const refused of responses.filter((r) => !accepted.includes(r))) expectRequestUriRefused(refused, server.issuer);
  });

  it('P2: a request_uri past its 90 s lifetime → invalid_request_uri; 89 s old still works (RFC 9126 §4, §2.2)', async () => {
    const fresh = await pushed();
    server.clock.advance(89);
    expectAccepted(await get(authorizeUrl(server.issuer, fresh)));
    const stale = await pushed();
    server.clock.advance(91);
    expectRequestUriRefused(await get(authorizeUrl(server.issuer, stale)), server.issuer);
  });

  const FOREIGN: readonly { name: string; clientId: readonly string[]; expect: (r: Response) => Promise<void> | void }[] = [
    {
      name: 'client_id=palisade-cli → redirect to its own single redirect URI',
      clientId: [DEMO.cli.id],
      expect: (r) => expectRequestUriRefused(r, server.issuer, CLI_REDIRECT),
    },
    {
      name: 'client_id=ops-bot (no redirect URI) → 400 error page',
      clientId: [DEMO.opsBot.id],
      expect: (r) => expectErrorPage(r, /invalid_request_uri/),
    },
    { name: 'an unknown client_id → 400 error page', clientId: ['no-such-client'], expect: (r) => expectErrorPage(r, /not registered/) },
    {
      name: 'a differently cased client_id → 400 error page',
      clientId: ['Assistant'],
      expect: (r) => expectErrorPage(r, /not registered/),
    },
    { name: 'no client_id → 400 error page', clientId: [], expect: (r) => expectErrorPage(r, /not registered/) },
    {
      name: 'client_id sent twice → 400 error page',
      clientId: [DEMO.assistant.id, DEMO.assistant.id],
      expect: (r) => expectErrorPage(r, /not registered/),
    },
  ];
  for (const foreign of FOREIGN) {
    it(`P3: the assistant's request_uri with ${foreign.name}, and the owner can still use it (RFC 9126 §2.2, §4)`, async () => {
      const requestUri = await pushed();
      const url = authorizeUrl(server.issuer, requestUri, { client_id: null });
      for (const id of foreign.clientId) url.searchParams.append('client_id', id);
      await foreign.expect(await get(url));
      expectAccepted(await get(authorizeUrl(server.issuer, requestUri)));
    });
  }

  it('P4: request_uri values carry 256 random bits and never repeat (RFC 9126 §7.1)', async () => {
    const values = await Promise.all(Array.from({ length: 24 }, () => pushed()));
    for (const value of values) assert.match(value, REQUEST_URI);
    assert.equal(new Set(values).size, values.length);
    // 43 base64url characters: every position varies across the sample, so no fixed or counter part.
    const handles = values.map((v) => v.slice(-43));
    const varying = Array.from({ length: 43 }, (_, i) => new Set(handles.map((h) => h[i])).size > 1).filter(Boolean).length;
    assert.ok(varying >= 40, `only ${varying} of 43 positions vary`);
  });

  const GUESSES: readonly (readonly [string, (real: string) => string])[] = [
    ['a random handle with the right prefix', () => `urn:ietf:params:oauth:request_uri:${'A'.repeat(43)}`],
    ['the real one with its last character changed', (real) => real.slice(0, -1) + (real.endsWith('A') ? 'B' : 'A')],
    ['the real one truncated', (real) => real.slice(0, -1)],
    ['the real one with a trailing space', (real) => `${real} `],
    [
      'the real one with the prefix in upper case',
      (real) => real.replace('urn:ietf:params:oauth:request_uri:', 'URN:IETF:PARAMS:OAUTH:REQUEST_URI:'),
    ],
    ['the bare handle without the URN prefix', (real) => real.slice(-43)],
    ['the prefix alone', () => 'urn:ietf:params:oauth:request_uri:'],
    ['an https URL to fetch (SSRF)', () => 'https://evil.example/request.jwt'],
    ['an empty value', () => ''],
  ];
  it('P4: guessed, altered or foreign-format request_uris → invalid_request_uri, and none of them burns the real one (RFC 9126 §7.1)', async () => {
    const real = await pushed();
    for (const [variant, guess] of GUESSES) {
      const response = await get(authorizeUrl(server.issuer, guess(real)));
      assert.equal(new URL(response.headers.get('location') ?? 'about:none').searchParams.get('error'), 'invalid_request_uri', variant);
      expectRequestUriRefused(response, server.issuer);
    }
    const twice = authorizeUrl(server.issuer, real);
    twice.searchParams.append('request_uri', real);
    expectRequestUriRefused(await get(twice), server.issuer);
    expectAccepted(await get(authorizeUrl(server.issuer, real)));
  });

  it('P5: a request_uri inside the PAR body → 400 invalid_request, nothing stored (RFC 9126 §2.1)', async () => {
    const real = await pushed();
    for (const requestUri of [real, 'urn:ietf:params:oauth:request_uri:abc', 'https://evil.example/request.jwt']) {
      const reply = await post(par, pushForm({ request_uri: requestUri }), ASSISTANT);
      expectError(reply, 400, 'invalid_request');
      assert.equal(reply.body.request_uri, undefined);
    }
    expectAccepted(await get(authorizeUrl(server.issuer, real)));
  });

  it('P6: a plain front-channel request from the assistant (PAR required) → redirect with invalid_request + state + iss (RFC 9126 §5)', async () => {
    const url = new URL('/authorize', server.issuer);
    for (const [name, value] of Object.entries({ client_id: DEMO.assistant.id, ...pushForm() })) url.searchParams.set(name, value);
    for (const response of [await get(url), await get(new URL('/authorize', server.issuer), { method: 'POST', body: url.searchParams })]) {
      assert.equal(response.status, 303);
      const location = new URL(response.headers.get('location') ?? 'about:none');
      assert.equal(`${location.origin}${location.pathname}`, DEMO.assistant.redirectUri);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.equal(location.searchParams.get('state'), STATE);
      assert.deepEqual(location.searchParams.getAll('iss'), [server.issuer]);
      assert.equal(location.searchParams.has('code'), false);
    }
    // The requirement is per client: palisade-cli may still use the front channel.
    url.searchParams.set('client_id', DEMO.cli.id);
    url.searchParams.set('redirect_uri', CLI_REDIRECT);
    expectAccepted(await get(url));
    const metadata = (await (await get(new URL('/.well-known/oauth-authorization-server', server.issuer))).json()) as Record<
      string,
      unknown
    >;
    assert.equal(metadata.pushed_authorization_request_endpoint, par);
    assert.equal(metadata.require_pushed_authorization_requests, false, 'required per client, not globally');
  });

  const BAD_AUTH: readonly { name: string; form: Record<string, string>; auth?: string; status: number; error: string }[] = [
    { name: 'no client authentication at all', form: pushForm(), status: 401, error: 'invalid_client' },
    {
      name: 'a confidential client_id without its secret',
      form: pushForm({ client_id: DEMO.assistant.id }),
      status: 401,
      error: 'invalid_client',
    },
    { name: 'a wrong secret (Basic)', form: pushForm(), auth: basic(DEMO.assistant.id, 'wrong'), status: 401, error: 'invalid_client' },
    {
      name: 'a wrong secret (post)',
      form: pushForm({ client_id: DEMO.assistant.id, client_secret: 'wrong' }),
      status: 401,
      error: 'invalid_client',
    },
    { name: 'an unknown client', form: pushForm(), auth: basic('no-such-client', 'x'), status: 401, error: 'invalid_client' },
    {
      name: 'a public client presenting a secret',
      form: pushForm({ client_id: DEMO.cli.id, client_secret: 'x', redirect_uri: CLI_REDIRECT }),
      status: 401,
      error: 'invalid_client',
    },
    {
      name: 'another client_id in the body than in Basic',
      form: pushForm({ client_id: DEMO.cli.id }),
      auth: ASSISTANT,
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'two authentication methods (Basic and post)',
      form: pushForm({ client_id: DEMO.assistant.id, client_secret: DEMO.assistant.secret }),
      auth: ASSISTANT,
      status: 400,
      error: 'invalid_request',
    },
  ];
  for (const bad of BAD_AUTH) {
    it(`P7: a push with ${bad.name} → ${bad.status} ${bad.error}, nothing stored (RFC 9126 §2; OAuth 2.1 §2.4, §3.2.4)`, async () => {
      const reply = await post(par, bad.form, bad.auth);
      expectError(reply, bad.status, bad.error);
      assert.equal(reply.body.request_uri, undefined);
      if (bad.status === 401) assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic /);
    });
  }

  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    it(`P7: ${method} /par → 405 method_not_allowed with Allow: POST (RFC 9126 §2.1)`, async () => {
      const query = new URLSearchParams({ client_id: DEMO.assistant.id, ...pushForm() });
      const reply = await call(`${par}?${query}`, { method, headers: { authorization: ASSISTANT } });
      expectError(reply, 405, 'method_not_allowed');
      assert.equal(reply.headers.get('allow'), 'POST');
    });
  }

  it('P7: a PAR body over 64 KiB → 413 payload_too_large; just under the limit is parsed (RFC 9126 §2; SECURITY J2)', async () => {
    const padding = (size: number) => pushForm({ padding: 'x'.repeat(size) });
    expectError(await post(par, padding(64 * 1024), ASSISTANT), 413, 'payload_too_large');
    assert.equal((await post(par, padding(60 * 1024), ASSISTANT)).status, 201, 'unknown parameters are ignored (OAuth 2.1 §3.1)');
  });

  it('P7: parameters in the query string or a JSON body → 400 invalid_request (OAuth 2.1 §3.2; SECURITY J3, T16)', async () => {
    const query = new URLSearchParams(pushForm());
    expectError(await call(`${par}?${query}`, { method: 'POST', headers: { authorization: ASSISTANT } }), 400, 'invalid_request');
    const json = { authorization: ASSISTANT, 'content-type': 'application/json' };
    expectError(await call(par, { method: 'POST', headers: json, body: JSON.stringify(pushForm()) }), 400, 'invalid_request');
  });

  it('P8: scope, redirect_uri, state, prompt, response_type and details beside request_uri are ignored; only pushed values count (RFC 9126 §4)', async () => {
    const requestUri = await pushed({ scope: 'openid', prompt: 'consent' });
    const smuggled = authorizeUrl(server.issuer, requestUri, {
      scope: 'openid profile email offline_access tools.access',
      redirect_uri: 'http://127.0.0.1:9999/callback',
      state: 'attacker-state',
      prompt: 'none',
      response_type: 'token',
      code_challenge: 'a'.repeat(43),
      resource: DEMO.gateway,
      authorization_details: JSON.stringify([{ type: 'tool_access', locations: [DEMO.gateway], actions: ['payments.send'] }]),
    });
    const browser = new ScriptedBrowser(server.issuer);
    let { response, url } = await browser.follow(smuggled);
    let html = await response.text();
    assert.equal(pageKind(html), 'login', 'prompt=none and response_type=token were not honoured');
    let form = readForm(html);
    ({ response, url } = await browser.follow(new URL(form.action, url), { form: { ...form.fields, ...DEMO.bob } }));
    html = await response.text();
    assert.equal(pageKind(html), 'consent');
    assert.deepEqual(
      [...html.matchAll(/class="scope-name">([^<]*)</g)].map((m) => m[1]),
      ['openid'],
      'only the pushed scope is shown',
    );
    assert.doesNotMatch(html, /Exactly this access|payments\.send|9999/);
    form = readForm(html);
    ({ url } = await browser.follow(new URL(form.action, url), { form: { ...form.fields, decision: 'allow' } }));
    assert.equal(`${url.origin}${url.pathname}`, DEMO.assistant.redirectUri, 'the pushed redirect_uri');
    assert.equal(url.searchParams.get('state'), STATE, 'the pushed state');
    const code = url.searchParams.get('code') ?? assert.fail(`no code in ${url.href}`);
    const token: Reply = await post(
      `${server.issuer}/token`,
      { grant_type: 'authorization_code', code, redirect_uri: DEMO.assistant.redirectUri, code_verifier: VERIFIER },
      ASSISTANT,
    );
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(token.body.scope, 'openid');
    assert.equal(token.body.authorization_details, undefined);
    const claims = decodeJwt(field(token, 'access_token'));
    assert.equal(claims.scope, 'openid');
    assert.equal(claims.authorization_details, undefined);
    assert.equal(claims.aud, server.issuer, 'the smuggled resource was ignored');
  });
});
