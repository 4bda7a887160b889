import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, pageKind, ScriptedBrowser } from '../helpers/browser.js';
import { assistant } from '../helpers/clients.js';
import { allowFrontChannel, DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

// ../shared/SECURITY.md "Authorization endpoint" (A1–A15), proved over real HTTP against the demo realm.
// Requests are built by hand: most of them are ones a careful client library refuses to build.

/** RFC 7636 §4.1: a verifier of 43–128 unreserved characters; the S256 challenge is 43 base64url characters. */
const VERIFIER = 'palisade-security-authorization-test-verifier-0123456789';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const STATE = 'st-7Qk2x';
/** A public client added to the demo realm with two redirect URIs (A2) and only the openid scope (A13). */
const TWO = { id: 'two-redirects', redirectUris: ['https://app.example/cb', 'https://app.example/other'] } as const;

type Value = string | readonly string[] | null;

/** An authorization URL: a valid assistant request, with parameters replaced (string), repeated (array) or removed (null). */
function authorizeUrl(issuer: string, overrides: Readonly<Record<string, Value>> = {}): URL {
  const base: Record<string, Value> = {
    response_type: 'code',
    client_id: DEMO.assistant.id,
    redirect_uri: DEMO.assistant.redirectUri,
    scope: 'openid',
    state: STATE,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  };
  const url = new URL('/authorize', issuer);
  for (const [name, value] of Object.entries({ ...base, ...overrides })) {
    for (const v of value === null ? [] : typeof value === 'string' ? [value] : value) url.searchParams.append(name, v);
  }
  return url;
}

const get = (url: URL): Promise<Response> => fetch(url, { redirect: 'manual' });

/** A non-redirecting refusal (OAuth 2.1 §4.1.2.1): 400, no Location, an HTML error page. Returns the page. */
async function expectErrorPage(response: Response): Promise<string> {
  assert.equal(response.status, 400);
  assert.equal(response.headers.get('location'), null, 'never redirect to an unverified address');
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  assert.equal(pageKind(html), 'error');
  assert.match(html, /<h1>Invalid sign-in request<\/h1>/);
  return html;
}

/** A redirecting error: 303 to the registered redirect URI with error, state and one iss (RFC 9207), and nothing issued. */
function expectErrorRedirect(
  response: Response,
  issuer: string,
  error: string,
  expected: { state?: string | null; redirectUri?: string } = {},
): URL {
  assert.equal(response.status, 303);
  const location = new URL(response.headers.get('location') ?? 'about:missing-location');
  assert.equal(`${location.origin}${location.pathname}`, expected.redirectUri ?? DEMO.assistant.redirectUri);
  assert.equal(location.searchParams.get('error'), error);
  assert.equal(location.searchParams.get('state'), expected.state === undefined ? STATE : expected.state);
  assert.deepEqual(location.searchParams.getAll('iss'), [issuer]);
  for (const issued of ['code', 'access_token', 'id_token', 'token_type'])
    assert.equal(location.searchParams.has(issued), false, `${issued} leaked`);
  assert.equal(location.hash, '', 'nothing in a fragment');
  return location;
}

/** An accepted request: 303 to this IdP's interaction, then the login page naming the client and the redirect host. */
async function expectLoginPage(issuer: string, url: URL, redirectUri: string): Promise<string> {
  const browser = new ScriptedBrowser(issuer);
  const { response } = await browser.follow(url);
  assert.equal(browser.responses[0]?.status, 303);
  assert.match(browser.responses[0]?.headers.get('location') ?? '', /^\/interaction\/[A-Za-z0-9_-]+$/);
  assert.equal(response.status, 200);
  const html = await response.text();
  assert.equal(pageKind(html), 'login');
  assert.ok(html.includes(`returns to ${new URL(redirectUri).host}</code>`), 'the page names the redirect host');
  return html;
}

describe('SECURITY A1–A15: the authorization endpoint (OAuth 2.1 §4.1, RFC 9700 §4)', () => {
  let server: TestIdp;
  let issuer: string;
  before(async () => {
    server = await startTestIdp({
      mutate: (document) => {
        allowFrontChannel(document);
        document.clients.push({
          client_id: TWO.id,
          name: 'Two redirects',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          redirect_uris: [...TWO.redirectUris],
          scopes: ['openid'],
        });
      },
    });
    issuer = server.issuer;
  });
  after(() => server.close());

  /** alice through password, TOTP (a fresh time step each time: codes are one-time) and consent. */
  async function aliceFlow(): Promise<{ browser: ScriptedBrowser; seen: string[]; callback: URL }> {
    server.clock.advance(30);
    const browser = new ScriptedBrowser(issuer);
    const seen: string[] = [];
    const callback = await authorizeInBrowser(
      browser,
      authorizeUrl(issuer, { prompt: 'consent' }),
      { ...DEMO.alice, now: server.clock.now() },
      seen,
    );
    assert.deepEqual(seen, ['login', 'totp', 'consent']);
    assert.ok(callback.searchParams.get('code'));
    return { browser, seen, callback };
  }

  const NOT_EXACT: readonly (readonly [string, string])[] = [
    ['a trailing slash', 'http://127.0.0.1:8765/callback/'],
    ['a different path case', 'http://127.0.0.1:8765/Callback'],
    ['an upper-case scheme', 'HTTP://127.0.0.1:8765/callback'],
    ['an extra query', 'http://127.0.0.1:8765/callback?next=https://evil.example/'],
    ['a path suffix', 'http://127.0.0.1:8765/callback/evil'],
    ['a path suffix without a slash', 'http://127.0.0.1:8765/callbackevil'],
    ['a dot-segment path', 'http://127.0.0.1:8765/callback/../evil'],
    ['a percent-encoded path', 'http://127.0.0.1:8765/%63allback'],
    ['a fragment', 'http://127.0.0.1:8765/callback#evil'],
    ['another host', 'https://evil.example/callback'],
    ['userinfo before the registered host', 'http://evil.example@127.0.0.1:8765/callback'],
    ['the registered host as userinfo', 'http://127.0.0.1:8765@evil.example/callback'],
  ];
  for (const [variant, uri] of NOT_EXACT) {
    it(`A1: redirect_uri with ${variant} is refused without redirect (OAuth 2.1 §2.3.1; BCP §4.1.3)`, async () => {
      const html = await expectErrorPage(await get(authorizeUrl(issuer, { redirect_uri: uri })));
      assert.doesNotMatch(html, /evil/, 'the page does not offer the attacker address as a link');
    });
  }

  const NOT_EXACT_HTTPS: readonly (readonly [string, string])[] = [
    ['a different host case', 'https://APP.example/cb'],
    ['an explicit default port', 'https://app.example:443/cb'],
    ['another port (only loopback may vary it)', 'https://app.example:8443/cb'],
    ['http instead of https', 'http://app.example/cb'],
    ['a subdomain', 'https://evil.app.example/cb'],
  ];
  for (const [variant, uri] of NOT_EXACT_HTTPS) {
    it(`A1: an https redirect_uri with ${variant} is refused without redirect (OAuth 2.1 §2.3.1; BCP §4.1.3)`, async () => {
      await expectErrorPage(await get(authorizeUrl(issuer, { client_id: TWO.id, redirect_uri: uri })));
    });
  }

  it('A1: an unregistered redirect_uri is never used to report another error (open redirect; BCP §4.11)', async () => {
    const otherErrors: readonly Record<string, Value>[] = [
      { response_type: 'token' },
      { code_challenge: null },
      { scope: 'openid admin' },
      { prompt: 'none' },
      { state: [STATE, STATE] },
    ];
    for (const other of otherErrors)
      await expectErrorPage(await get(authorizeUrl(issuer, { ...other, redirect_uri: 'https://evil.example/cb' })));
  });

  it('A2: redirect_uri omitted while the client has several is refused without redirect (OAuth 2.1 §2.3.2)', async () => {
    await expectErrorPage(await get(authorizeUrl(issuer, { client_id: TWO.id, redirect_uri: null })));
    await expectErrorPage(await get(authorizeUrl(issuer, { client_id: TWO.id, redirect_uri: '' })));
  });

  it('A2: with several registered, each one named exactly is accepted; with one registered, omitting it is accepted (OAuth 2.1 §2.3.2)', async () => {
    for (const uri of TWO.redirectUris) await expectLoginPage(issuer, authorizeUrl(issuer, { client_id: TWO.id, redirect_uri: uri }), uri);
    await expectLoginPage(issuer, authorizeUrl(issuer, { redirect_uri: null }), DEMO.assistant.redirectUri);
  });

  const BAD_CLIENTS: readonly (readonly [string, Value])[] = [
    ['an unknown', 'no-such-client'],
    ['a missing', null],
    ['an empty', ''],
    ['a differently cased', 'Assistant'],
    ['a repeated', [DEMO.assistant.id, DEMO.cli.id]],
    ['a redirect-less (client_credentials only)', DEMO.opsBot.id],
    ['a markup-laden', '<script>alert(1)</script>'],
  ];
  for (const [variant, clientId] of BAD_CLIENTS) {
    it(`A3: ${variant} client_id gives an error page, no redirect (OAuth 2.1 §4.1.2.1)`, async () => {
      const html = await expectErrorPage(await get(authorizeUrl(issuer, { client_id: clientId })));
      assert.equal(html.includes('<script>'), false, 'the client_id is not reflected');
    });
  }

  const PORT_ONLY: readonly (readonly [string, string])[] = [
    [DEMO.assistant.id, 'http://127.0.0.1:40123/callback'],
    [DEMO.assistant.id, 'http://127.0.0.1/callback'],
    [DEMO.cli.id, 'http://127.0.0.1:53117/callback'],
  ];
  for (const [clientId, uri] of PORT_ONLY) {
    it(`A4: loopback ${uri} for ${clientId} (only the port differs) is accepted and the login page shown (OAuth 2.1 §8.4.2)`, async () => {
      await expectLoginPage(issuer, authorizeUrl(issuer, { client_id: clientId, redirect_uri: uri }), uri);
    });
  }

  const LOOPBACK_OTHER: readonly (readonly [string, string])[] = [
    ['localhost instead of 127.0.0.1', 'http://localhost:8765/callback'],
    ['[::1] instead of 127.0.0.1', 'http://[::1]:8765/callback'],
    ['another loopback address', 'http://127.0.0.2:8765/callback'],
    ['https instead of http', 'https://127.0.0.1:8765/callback'],
    ['another path as well as another port', 'http://127.0.0.1:40123/other'],
    ['a query as well as another port', 'http://127.0.0.1:40123/callback?x=1'],
  ];
  for (const [variant, uri] of LOOPBACK_OTHER) {
    it(`A4: loopback redirect with ${variant} is refused without redirect (OAuth 2.1 §8.4.2)`, async () => {
      await expectErrorPage(await get(authorizeUrl(issuer, { redirect_uri: uri })));
    });
  }

  it('A5: no code_challenge is redirected with invalid_request + state + iss (OAuth 2.1 §4.1.2.1; FAPI2)', async () => {
    expectErrorRedirect(await get(authorizeUrl(issuer, { code_challenge: null })), issuer, 'invalid_request');
    expectErrorRedirect(await get(authorizeUrl(issuer, { code_challenge: null, code_challenge_method: null })), issuer, 'invalid_request');
    expectErrorRedirect(await get(authorizeUrl(issuer, { code_challenge: '' })), issuer, 'invalid_request');
  });

  const BAD_METHODS: readonly (readonly [string, string | null])[] = [
    ['plain', 'plain'],
    ['unknown (S512)', 'S512'],
    ['lower-case s256', 's256'],
    ['missing (plain by default)', null],
  ];
  for (const [variant, method] of BAD_METHODS) {
    it(`A6: code_challenge_method ${variant} gives invalid_request (OAuth 2.1 §4.1.2.1)`, async () => {
      expectErrorRedirect(await get(authorizeUrl(issuer, { code_challenge_method: method })), issuer, 'invalid_request');
    });
  }

  const BAD_CHALLENGES: readonly (readonly [string, string])[] = [
    ['42 characters (too short)', CHALLENGE.slice(0, 42)],
    ['129 characters (too long)', 'a'.repeat(129)],
    ["'+' and '/' (base64, not base64url)", `${'a'.repeat(41)}+/`],
    ["'=' padding", `${CHALLENGE}=`],
    ['a space', `${CHALLENGE.slice(0, 42)} a`],
    ['a non-ASCII letter', `${CHALLENGE.slice(0, 42)}é`],
  ];
  for (const [variant, challenge] of BAD_CHALLENGES) {
    it(`A7: code_challenge with ${variant} gives invalid_request (RFC 7636 §4.2)`, async () => {
      expectErrorRedirect(await get(authorizeUrl(issuer, { code_challenge: challenge })), issuer, 'invalid_request');
    });
  }

  it('A7: code_challenge of exactly 43 and 128 unreserved characters is accepted (RFC 7636 §4.2 boundaries)', async () => {
    for (const challenge of [CHALLENGE, `${'A-._~'.repeat(25)}abc`]) {
      await expectLoginPage(issuer, authorizeUrl(issuer, { code_challenge: challenge }), DEMO.assistant.redirectUri);
    }
  });

  for (const responseType of ['token', 'code id_token', 'id_token', 'code token', 'id_token token', 'none', 'unknown', 'CODE']) {
    it(`A8: response_type=${responseType} gives unsupported_response_type, nothing issued in the front channel (OAuth 2.1 §4.1.2.1)`, async () => {
      expectErrorRedirect(
        await get(authorizeUrl(issuer, { response_type: responseType, nonce: 'n-0S6' })),
        issuer,
        'unsupported_response_type',
      );
    });
  }

  it('A8: a missing response_type gives invalid_request (OAuth 2.1 §4.1.2.1)', async () => {
    expectErrorRedirect(await get(authorizeUrl(issuer, { response_type: null })), issuer, 'invalid_request');
  });

  const REPEATED: readonly (readonly [string, readonly string[]])[] = [
    ['response_type', ['code', 'code']],
    ['scope', ['openid', 'openid email']],
    ['state', [STATE, 'other-state']],
    ['code_challenge', [CHALLENGE, CHALLENGE]],
    ['code_challenge_method', ['S256', 'S256']],
    ['nonce', ['n-1', 'n-2']],
    ['prompt', ['login', 'consent']],
    ['max_age', ['60', '60']],
    ['response_mode', ['query', 'query']],
  ];
  for (const [name, values] of REPEATED) {
    it(`A9: ${name} sent twice gives invalid_request (OAuth 2.1 §3.1)`, async () => {
      // A repeated state cannot be echoed: the client gets none back (it will refuse the response, which is right).
      const state = name === 'state' ? null : STATE;
      expectErrorRedirect(await get(authorizeUrl(issuer, { [name]: values })), issuer, 'invalid_request', { state });
    });
  }

  it('A9/T15: resource sent twice gives invalid_target: RFC 8707 §2 allows several, Palisade issues one audience per token (ADR 0002)', async () => {
    expectErrorRedirect(await get(authorizeUrl(issuer, { resource: [DEMO.gateway, DEMO.gateway] })), issuer, 'invalid_target', {
      state: STATE,
    });
  });

  for (const name of ['client_id', 'redirect_uri']) {
    it(`A9: ${name} sent twice gives an error page, no redirect (OAuth 2.1 §3.1, §4.1.2.1)`, async () => {
      const values =
        name === 'client_id' ? [DEMO.assistant.id, DEMO.assistant.id] : [DEMO.assistant.redirectUri, DEMO.assistant.redirectUri];
      await expectErrorPage(await get(authorizeUrl(issuer, { [name]: values })));
    });
  }

  it('A10: unknown parameters, even repeated, are ignored and the flow succeeds (OAuth 2.1 §3.1)', async () => {
    const config = await assistant(issuer);
    const url = authorizeUrl(issuer, { x_campaign: ['a', 'b'], ui_locales: 'fr', client_name: 'Other' });
    const callback = await authorizeInBrowser(new ScriptedBrowser(issuer), url, { ...DEMO.bob, consent: 'allow' });
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: VERIFIER, expectedState: STATE });
    assert.equal(tokens.claims()?.sub, 'bob');
    assert.equal(tokens.scope, 'openid');
  });

  it('A11: metadata advertises iss and every authorization response, success or error, carries it (RFC 9207 §2–3; BCP §4.4)', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const metadata = (await (await fetch(new URL(path, issuer))).json()) as Record<string, unknown>;
      assert.equal(metadata.issuer, issuer);
      assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    }
    const browser = new ScriptedBrowser(issuer);
    const success = await authorizeInBrowser(browser, authorizeUrl(issuer), { ...DEMO.bob });
    assert.deepEqual(success.searchParams.getAll('iss'), [issuer]);
    assert.ok(success.searchParams.get('code'));
    const silent = await browser.follow(
      authorizeUrl(issuer, { prompt: 'none', client_id: DEMO.cli.id, redirect_uri: 'http://127.0.0.1:53117/callback' }),
    );
    expectErrorRedirect(silent.response, issuer, 'consent_required', { redirectUri: 'http://127.0.0.1:53117/callback' });
    expectErrorRedirect(await get(authorizeUrl(issuer, { prompt: 'none' })), issuer, 'login_required');
  });

  it('A12: the user denies at consent → access_denied + state + iss, no code (OAuth 2.1 §4.1.2.1)', async () => {
    const browser = new ScriptedBrowser(issuer);
    const seen: string[] = [];
    await authorizeInBrowser(browser, authorizeUrl(issuer, { prompt: 'consent' }), { ...DEMO.bob, consent: 'deny' }, seen);
    assert.deepEqual(seen, ['login', 'consent']);
    const last = browser.responses.at(-1);
    assert.ok(last);
    expectErrorRedirect(last, issuer, 'access_denied');
  });

  const BAD_SCOPES: readonly (readonly [string, Readonly<Record<string, Value>>])[] = [
    ['an unknown scope', { scope: 'openid admin' }],
    ['only an unknown scope', { scope: 'root' }],
    ['a differently cased scope', { scope: 'OpenID' }],
    ['a realm scope the client may not ask for', { client_id: TWO.id, redirect_uri: TWO.redirectUris[0], scope: 'openid email' }],
  ];
  for (const [variant, overrides] of BAD_SCOPES) {
    it(`A13: ${variant} gives invalid_scope (OAuth 2.1 §4.1.2.1)`, async () => {
      const redirectUri = overrides.client_id === TWO.id ? TWO.redirectUris[0] : DEMO.assistant.redirectUri;
      expectErrorRedirect(await get(authorizeUrl(issuer, overrides)), issuer, 'invalid_scope', { redirectUri });
    });
  }

  it('A14: the login, TOTP and consent POSTs are answered with 303, never 307/302 (BCP §4.12)', async () => {
    const { browser, callback } = await aliceFlow();
    const posts = browser.responses.filter((r) => /\/interaction\/[^/]+\/(login|totp|consent)$/.test(new URL(r.url).pathname));
    assert.deepEqual(
      posts.map((r) => [new URL(r.url).pathname.split('/').at(-1), r.status]),
      [
        ['login', 303],
        ['totp', 303],
        ['consent', 303],
      ],
    );
    assert.equal(posts.at(-1)?.headers.get('location'), callback.href, 'the last POST answer is the redirect to the client');
    // A POSTed authorization request that fails is sent back with 303 too: the browser must not re-POST to the client.
    const form = Object.fromEntries(authorizeUrl(issuer, { code_challenge: null }).searchParams);
    expectErrorRedirect(await browser.request(new URL('/authorize', issuer), { form }), issuer, 'invalid_request');
  });

  it('A15: every page and redirect of the flow sends Referrer-Policy: no-referrer (BCP §4.2.4)', async () => {
    const { browser, callback } = await aliceFlow();
    assert.equal(browser.responses.length, 7, 'authorize, 3 pages, 3 posts');
    for (const response of browser.responses) assert.equal(response.headers.get('referrer-policy'), 'no-referrer', response.url);
    assert.equal(browser.responses.at(-1)?.headers.get('location'), callback.href, 'including the redirect that carries the code');
    const errorPage = await get(authorizeUrl(issuer, { client_id: 'no-such-client' }));
    assert.equal(errorPage.headers.get('referrer-policy'), 'no-referrer');
    assert.match(await errorPage.text(), /<meta name="referrer" content="no-referrer">/);
    const loginPage = await expectLoginPage(issuer, authorizeUrl(issuer), DEMO.assistant.redirectUri);
    assert.match(loginPage, /<meta name="referrer" content="no-referrer">/);
  });

  const INJECTED_STATES: readonly (readonly [string, string])[] = [
    ['markup (reflected XSS)', '"><script>alert(1)</script>'],
    ['CR LF (header injection)', 'x\r\nSet-Cookie: pwned=1'],
    ['&iss=…&code=… (parameter smuggling, mix-up)', 'x&iss=https://evil.example&code=forged'],
  ];
  for (const [variant, state] of INJECTED_STATES) {
    it(`extra: state with ${variant} is echoed verbatim, encoded, never interpreted (OAuth 2.1 §7.10; RFC 9207)`, async () => {
      const response = await get(authorizeUrl(issuer, { state, code_challenge: null }));
      expectErrorRedirect(response, issuer, 'invalid_request', { state });
      assert.equal(response.headers.getSetCookie().length, 0);
      const html = await expectLoginPage(issuer, authorizeUrl(issuer, { state }), DEMO.assistant.redirectUri);
      assert.equal(html.includes('<script>alert'), false);
    });
  }

  for (const mode of ['fragment', 'form_post', 'web_message']) {
    it(`extra: response_mode=${mode} gives invalid_request; the code only travels in the query (OAuth 2.1 §4.1.2)`, async () => {
      expectErrorRedirect(await get(authorizeUrl(issuer, { response_mode: mode })), issuer, 'invalid_request');
    });
  }
});
