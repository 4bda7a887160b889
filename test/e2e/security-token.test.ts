/**
 * SECURITY.md "Token endpoint" (T1–T17), plus J2, J3 and A9 at /token:
 * raw HTTP requests built byte by byte, so nothing a client library would
 * fix up for us hides a gap in the server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type CryptoKey,
  decodeJwt,
  exportJWK,
  type GenerateKeyPairResult,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import type * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { basic, call, expectError, field, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const ASSISTANT = basic(DEMO.assistant.id, DEMO.assistant.secret);
const OPS_BOT = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
const OPS_BOT_POST = { client_id: DEMO.opsBot.id, client_secret: DEMO.opsBot.secret };
const CC = { grant_type: 'client_credentials' };

interface Issued {
  readonly code: string;
  readonly verifier: string;
  readonly challenge: string;
}

describe('token endpoint: authorization code redemption (SECURITY T1–T8)', () => {
  let server: TestIdp;
  let config: client.Configuration;
  let browser: ScriptedBrowser;
  before(async () => {
    server = await startTestIdp();
    config = await assistant(server.issuer);
    browser = new ScriptedBrowser(server.issuer);
  });
  after(() => server.close());

  const url = (path: string) => server.issuer + path;

  /** A fresh code for bob and the assistant, through the real login and consent pages (one SSO session for the block). */
  async function issueCode(parameters: Record<string, string> = {}): Promise<Issued> {
    const request = await authorizationRequest(config, parameters);
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    const code = callback.searchParams.get('code');
    assert.ok(code, `no code in ${callback.href}`);
    return { code, verifier: request.verifier, challenge: request.url.searchParams.get('code_challenge') ?? '' };
  }

  /** The assistant's redemption; `changes` replaces (string) or drops (null) parameters. */
  function redeem(
    issued: Pick<Issued, 'code' | 'verifier'>,
    changes: Record<string, string | null> = {},
    authorization: string | null = ASSISTANT,
  ) {
    const all: Record<string, string | null> = {
      grant_type: 'authorization_code',
      code: issued.code,
      redirect_uri: DEMO.assistant.redirectUri,
      code_verifier: issued.verifier,
      ...changes,
    };
    const form = Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== null);
    return post(url('/token'), form, authorization ?? undefined);
  }

  async function isActive(token: string): Promise<boolean> {
    const reply = await post(url('/introspect'), { token }, ASSISTANT);
    assert.equal(reply.status, 200);
    return reply.body.active === true;
  }

  async function redeemed(issued: Issued): Promise<{ access: string; refresh: string }> {
    const reply = await redeem(issued);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return { access: field(reply, 'access_token'), refresh: field(reply, 'refresh_token') };
  }

  it('T1: a second redemption of a code fails and revokes the tokens of the first (OAuth 2.1 §4.1.3; RFC 9700 §4.5)', async () => {
    const issued = await issueCode();
    const first = await redeem(issued);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-store', 'T17');
    const tokens = { access: field(first, 'access_token'), refresh: field(first, 'refresh_token') };
    assert.equal(await isActive(tokens.access), true);
    assert.equal(await isActive(tokens.refresh), true);

    expectError(await redeem(issued), 400, 'invalid_grant');
    assert.equal(await isActive(tokens.access), false, 'access token of the first redemption revoked');
    assert.equal(await isActive(tokens.refresh), false, 'refresh token of the first redemption revoked');
    expectError(await post(url('/token'), { grant_type: 'refresh_token', refresh_token: tokens.refresh }, ASSISTANT), 400, 'invalid_grant');
    expectError(await redeem(issued), 400, 'invalid_grant');
  });

  const replays = [
    { row: 'with a wrong code_verifier', changes: { code_verifier: 'w'.repeat(43) }, auth: ASSISTANT, status: 400, error: 'invalid_grant' },
    { row: 'without client authentication', changes: { client_id: DEMO.assistant.id }, auth: null, status: 401, error: 'invalid_client' },
  ] as const;
  for (const replay of replays) {
    it(`T2: a replayed code ${replay.row} → ${replay.status} ${replay.error}, and the first redemption's tokens stay active (OAuth 2.1 §7.5.2: no denial of service)`, async () => {
      const issued = await issueCode();
      const tokens = await redeemed(issued);
      expectError(await redeem(issued, replay.changes, replay.auth), replay.status, replay.error);
      assert.equal(await isActive(tokens.access), true);
      assert.equal(await isActive(tokens.refresh), true);
    });
  }

  it('T3: of two parallel redemptions of one code exactly one gets 200; the other counts as reuse (OAuth 2.1 §4.1.3)', async () => {
    const issued = await issueCode();
    const replies = await Promise.all([redeem(issued), redeem(issued)]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 400]);
    const [winner, loser] = replies[0]?.status === 200 ? replies : [replies[1], replies[0]];
    assert.ok(winner && loser);
    expectError(loser, 400, 'invalid_grant');
    // T1 holds in the race too: the reuse revokes whatever the winner got, whichever finished first.
    assert.equal(await isActive(field(winner, 'access_token')), false);
    assert.equal(await isActive(field(winner, 'refresh_token')), false);
  });

  const verifiers: { row: string; verifier: (issued: Issued) => string | null }[] = [
    { row: 'a wrong (well-formed) code_verifier', verifier: () => 'A'.repeat(43) },
    { row: 'no code_verifier', verifier: () => null },
    { row: 'a malformed code_verifier (42 characters)', verifier: (issued) => issued.verifier.slice(0, 42) },
    { row: 'the code_challenge itself sent as verifier (plain downgrade)', verifier: (issued) => issued.challenge },
  ];
  for (const { row, verifier } of verifiers) {
    it(`T4: ${row} → 400 invalid_grant, and the code stays redeemable with the right verifier (RFC 7636 §4.6)`, async () => {
      const issued = await issueCode();
      expectError(await redeem(issued, { code_verifier: verifier(issued) }), 400, 'invalid_grant');
      await redeemed(issued);
    });
  }

  it('T5: no code ever exists without a code_challenge, so a verifier cannot meet one: a request without challenge is refused at PAR and no code is issued (RFC 9700 §4.8.2; A5)', async () => {
    const reply = await post(
      `${server.issuer}/par`,
      {
        response_type: 'code',
        redirect_uri: DEMO.assistant.redirectUri,
        scope: 'openid',
        state: 'no-challenge',
      },
      ASSISTANT,
    );
    expectError(reply, 400, 'invalid_request');
    assert.equal(reply.body.request_uri, undefined);
  });

  it('T6: a code redeemed by another client → 400 invalid_grant, and its own client can still redeem it (OAuth 2.1 §4.1.3)', async () => {
    const issued = await issueCode();
    expectError(await redeem(issued, { client_id: DEMO.cli.id }, null), 400, 'invalid_grant');
    await redeemed(issued);
  });

  it('T7: a code older than its 60 s lifetime → 400 invalid_grant (FAPI 2.0 §5.3.2.1)', async () => {
    const stale = await issueCode();
    server.clock.advance(61);
    expectError(await redeem(stale), 400, 'invalid_grant');
    const justInTime = await issueCode();
    server.clock.advance(59);
    await redeemed(justInTime);
  });

  const redirects = [
    { row: 'on another loopback port', redirect_uri: 'http://127.0.0.1:8766/callback' },
    { row: 'with a trailing slash', redirect_uri: `${DEMO.assistant.redirectUri}/` },
    { row: 'with an extra query', redirect_uri: `${DEMO.assistant.redirectUri}?x=1` },
    { row: 'omitted although the authorization request sent one', redirect_uri: null },
  ];
  for (const { row, redirect_uri } of redirects) {
    it(`T8: a redirect_uri ${row} → 400 invalid_grant, and the code stays redeemable (OAuth 2.1 §4.1.3)`, async () => {
      const issued = await issueCode();
      expectError(await redeem(issued, { redirect_uri }), 400, 'invalid_grant');
      await redeemed(issued);
    });
  }

  it('T15: a resource other than the authorized one at redemption → 400 invalid_target, and the code stays redeemable (RFC 8707 §2.2)', async () => {
    const issued = await issueCode({ scope: 'openid tools.access', resource: DEMO.gateway });
    expectError(await redeem(issued, { resource: 'http://127.0.0.1:9410' }), 400, 'invalid_target');
    const reply = await redeem(issued, { resource: DEMO.gateway });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(decodeJwt(field(reply, 'access_token')).aud, DEMO.gateway);
  });

  it('A9: a code_verifier sent twice → 400 invalid_request (OAuth 2.1 §3.1)', async () => {
    const issued = await issueCode();
    const form: [string, string][] = [
      ['grant_type', 'authorization_code'],
      ['code', issued.code],
      ['redirect_uri', DEMO.assistant.redirectUri],
      ['code_verifier', issued.verifier],
      ['code_verifier', issued.verifier],
    ];
    expectError(await post(url('/token'), form, ASSISTANT), 400, 'invalid_request');
  });

  it('TX1 (not in the catalogue): a missing code → 400 invalid_request, an unknown code → 400 invalid_grant (RFC 6749 §5.2)', async () => {
    expectError(await redeem({ code: 'unused', verifier: 'A'.repeat(43) }, { code: null }), 400, 'invalid_request');
    expectError(await redeem({ code: 'not-a-code', verifier: 'A'.repeat(43) }), 400, 'invalid_grant');
  });

  it('T1: a second redemption naming another resource is still reuse: 400 invalid_grant, tokens revoked (OAuth 2.1 §4.1.3)', async () => {
    const issued = await issueCode();
    const tokens = await redeemed(issued);
    expectError(await redeem(issued, { resource: DEMO.gateway }), 400, 'invalid_grant');
    assert.equal(await isActive(tokens.access), false);
    assert.equal(await isActive(tokens.refresh), false);
  });
});

describe('token endpoint: client authentication (SECURITY T9–T11)', () => {
  const PKJWT = 'pkjwt-agent';
  let server: TestIdp;
  let keys: GenerateKeyPairResult;
  let publicJwk: JWK;
  before(async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    publicJwk = { ...(await exportJWK(keys.publicKey)), alg: 'ES256', kid: 'pkjwt-1', use: 'sig' };
    server = await startTestIdp({
      mutate: (doc) =>
        doc.clients.push({
          client_id: PKJWT,
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [publicJwk] },
          grant_types: ['client_credentials'],
          scopes: ['tools.access'],
        }),
    });
  });
  after(() => server.close());

  const token = () => `${server.issuer}/token`;

  const badSecrets: { row: string; auth?: string; form?: Record<string, string> }[] = [
    { row: 'Basic with a wrong secret', auth: basic(DEMO.opsBot.id, 'wrong-secret') },
    { row: 'Basic for an unknown client', auth: basic('nobody', DEMO.opsBot.secret) },
    { row: 'client_secret_post with a wrong secret', form: { client_id: DEMO.opsBot.id, client_secret: 'wrong-secret' } },
    { row: 'client_secret_post for an unknown client', form: { client_id: 'nobody', client_secret: DEMO.opsBot.secret } },
    { row: 'a confidential client sending only its client_id', form: { client_id: DEMO.opsBot.id } },
    { row: 'no client identification at all', form: {} },
    { row: 'a secret for the public client palisade-cli', form: { client_id: DEMO.cli.id, client_secret: 'guessed-secret' } },
    { row: 'Basic with the right secret but the client_id in another case', auth: basic('OPS-BOT', DEMO.opsBot.secret) },
    { row: 'a malformed Basic header', auth: 'Basic !!not-base64!!' },
    { row: 'a Basic header without a colon', auth: `Basic ${Buffer.from(DEMO.opsBot.id).toString('base64')}` },
  ];
  for (const { row, auth, form } of badSecrets) {
    it(`T9: ${row} → 401 invalid_client with WWW-Authenticate (OAuth 2.1 §3.2.4; RFC 6749 §5.2)`, async () => {
      const reply = await post(token(), { ...CC, ...form }, auth);
      expectError(reply, 401, 'invalid_client');
      assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic realm="palisade"/);
    });
  }

  /** A private_key_jwt client assertion (RFC 7523 §3) at the server's clock; `omit` drops claims. */
  function claims(changes: JWTPayload = {}, omit: (keyof JWTPayload)[] = []): JWTPayload {
    const now = server.clock.now();
    const all: JWTPayload = { iss: PKJWT, sub: PKJWT, aud: server.issuer, jti: randomUUID(), iat: now, exp: now + 60, ...changes };
    for (const name of omit) delete all[name];
    return all;
  }
  const assertion = (changes: JWTPayload = {}, omit: (keyof JWTPayload)[] = [], key: CryptoKey = keys.privateKey) =>
    new SignJWT(claims(changes, omit)).setProtectedHeader({ alg: 'ES256', kid: 'pkjwt-1' }).sign(key);
  const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:';
  const jwtBearer = (value: string, extra: Record<string, string> = {}) => ({
    ...CC,
    client_assertion_type: `${ASSERTION_TYPE}jwt-bearer`,
    client_assertion: value,
    ...extra,
  });
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  /** RFC 8725 §3.1 algorithm confusion: HMAC keyed with the client's public key. */
  const hs256 = () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(JSON.stringify(publicJwk)));

  it('T11: a good private_key_jwt assertion (aud = the issuer, one string) gets a token (RFC 7523 §3, draft-ietf-oauth-rfc7523bis §4)', async () => {
    const reply = await post(token(), jwtBearer(await assertion({ aud: server.issuer }), { client_id: PKJWT }));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(decodeJwt(field(reply, 'access_token')).sub, PKJWT);
  });

  const badAssertions: { row: string; build: () => Promise<string>; extra?: Record<string, string> }[] = [
    { row: 'a wrong aud (another server)', build: () => assertion({ aud: 'https://other.example/token' }) },
    // The audience-injection fix: only the issuer, as a single string, is this server's alone.
    { row: 'aud = the token endpoint URL', build: () => assertion({ aud: `${server.issuer}/token` }) },
    { row: 'aud = [issuer, another server]', build: () => assertion({ aud: [server.issuer, 'https://attacker.example'] }) },
    { row: 'aud = [issuer] as an array', build: () => assertion({ aud: [server.issuer] }) },
    { row: 'aud = the introspection endpoint, presented at /token', build: () => assertion({ aud: `${server.issuer}/introspect` }) },
    {
      row: 'an expired assertion (beyond the 30 s skew)',
      build: () => assertion({ iat: server.clock.now() - 300, exp: server.clock.now() - 60 }),
    },
    { row: 'no sub', build: () => assertion({}, ['sub']) },
    { row: 'sub naming another client', build: () => assertion({ sub: DEMO.opsBot.id }) },
    { row: 'no jti', build: () => assertion({}, ['jti']) },
    { row: 'a lifetime over 300 s (unbounded replay window)', build: () => assertion({ exp: server.clock.now() + 3600 }) },
    { row: 'alg none (unsigned)', build: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.` },
    { row: 'HS256 keyed with the registered public JWK', build: hs256 },
    { row: 'a signature by an unregistered key', build: async () => assertion({}, [], (await generateKeyPair('ES256')).privateKey) },
    { row: 'client_assertion_type saml2-bearer', build: assertion, extra: { client_assertion_type: `${ASSERTION_TYPE}saml2-bearer` } },
    { row: 'a body client_id naming another client', build: () => assertion(), extra: { client_id: DEMO.opsBot.id } },
  ];
  for (const { row, build, extra } of badAssertions) {
    it(`T11: private_key_jwt with ${row} → 401 invalid_client (RFC 7523 §3; RFC 8725 §3.1)`, async () => {
      const reply = await post(token(), jwtBearer(await build(), extra));
      expectError(reply, 401, 'invalid_client');
      assert.ok(reply.headers.get('www-authenticate'));
    });
  }

  it('T11: a replayed assertion, or a new assertion reusing a jti → 401 invalid_client (RFC 7523 §3 item 7)', async () => {
    const once = await assertion();
    assert.equal((await post(token(), jwtBearer(once))).status, 200);
    expectError(await post(token(), jwtBearer(once)), 401, 'invalid_client');
    const reused = await assertion({ jti: decodeJwt(once).jti ?? '', exp: server.clock.now() + 90 });
    expectError(await post(token(), jwtBearer(reused)), 401, 'invalid_client');
  });

  const mixed: { row: string; auth?: string; form: Record<string, string> }[] = [
    { row: 'Basic plus client_secret in the body', auth: OPS_BOT, form: { client_secret: DEMO.opsBot.secret } },
    { row: 'Basic plus client_assertion', auth: OPS_BOT, form: jwtBearer('x.y.z') },
    { row: 'client_secret plus client_assertion', form: { ...jwtBearer('x.y.z'), ...OPS_BOT_POST } },
    { row: 'Basic plus a body client_id naming another client', auth: OPS_BOT, form: { client_id: DEMO.assistant.id } },
  ];
  for (const { row, auth, form } of mixed) {
    it(`T10: ${row} → 400 invalid_request (OAuth 2.1 §2.4: one method per request)`, async () => {
      expectError(await post(token(), { ...CC, ...form }, auth), 400, 'invalid_request');
    });
  }
});

describe('token endpoint: grants, scope, resource and HTTP (SECURITY T12–T17, J2, J3, A9)', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());
  const url = (path: string) => server.issuer + path;

  const forbidden = [
    { row: 'ops-bot asking authorization_code', auth: OPS_BOT, form: { grant_type: 'authorization_code', code: 'x', code_verifier: 'x' } },
    { row: 'ops-bot asking refresh_token', auth: OPS_BOT, form: { grant_type: 'refresh_token', refresh_token: 'x' } },
    { row: 'assistant asking client_credentials', auth: ASSISTANT, form: CC },
    { row: 'the public palisade-cli asking client_credentials', auth: undefined, form: { ...CC, client_id: DEMO.cli.id } },
  ];
  for (const { row, auth, form } of forbidden) {
    it(`T12: ${row} → 400 unauthorized_client (OAuth 2.1 §3.2.4)`, async () => {
      expectError(await post(url('/token'), form, auth), 400, 'unauthorized_client');
    });
  }

  for (const grant of ['password', 'implicit', 'urn:example:grant-type:unknown', 'CLIENT_CREDENTIALS']) {
    it(`T13: grant_type=${grant} → 400 unsupported_grant_type (OAuth 2.1 §10; RFC 9700 §2.4)`, async () => {
      const reply = await post(url('/token'), { grant_type: grant, username: DEMO.bob.username, password: DEMO.bob.password }, OPS_BOT);
      expectError(reply, 400, 'unsupported_grant_type');
    });
  }

  it('T13: no grant_type, or an empty one → 400 invalid_request (RFC 6749 §5.2)', async () => {
    expectError(await post(url('/token'), {}, OPS_BOT), 400, 'invalid_request');
    expectError(await post(url('/token'), { grant_type: '' }, OPS_BOT), 400, 'invalid_request');
  });

  for (const scope of ['openid', 'offline_access', 'profile', 'admin', 'tools.access admin']) {
    it(`T14: ops-bot asking scope "${scope}" beyond its registration → 400 invalid_scope (OAuth 2.1 §4.2.1)`, async () => {
      expectError(await post(url('/token'), { ...CC, scope }, OPS_BOT), 400, 'invalid_scope');
    });
  }

  const targets = [
    { row: 'unknown', resource: 'http://127.0.0.1:9999/unknown' },
    { row: 'a URN no resource server has', resource: 'urn:example:not-a-server' },
    { row: 'relative', resource: '/mcp' },
    { row: 'with a fragment', resource: `${DEMO.gateway}#fragment` },
    { row: 'with an empty fragment', resource: `${DEMO.gateway}#` },
    { row: 'a known one plus a path suffix', resource: `${DEMO.gateway}/admin` },
  ];
  for (const { row, resource } of targets) {
    it(`T15: resource ${row} → 400 invalid_target (RFC 8707 §2)`, async () => {
      expectError(await post(url('/token'), { ...CC, resource }, OPS_BOT), 400, 'invalid_target');
    });
  }

  for (const path of ['/token', '/introspect', '/revoke']) {
    it(`T16: GET, PUT, DELETE, PATCH ${path} → 405 method_not_allowed with Allow: POST (OAuth 2.1 §3.2)`, async () => {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        const reply = await call(`${url(path)}?${new URLSearchParams(CC)}`, { method, headers: { authorization: OPS_BOT } });
        expectError(reply, 405, 'method_not_allowed');
        assert.equal(reply.headers.get('allow'), 'POST', method);
      }
    });
  }

  const queries = [
    { row: 'every parameter in the query string, empty body', query: 'grant_type=client_credentials', form: {} },
    { row: 'the scope in the query string, the rest in the body', query: 'scope=tools.access', form: CC },
    { row: 'the client_secret in the query string', query: `client_secret=${DEMO.opsBot.secret}`, form: { ...CC, client_id: 'ops-bot' } },
  ];
  for (const { row, query, form } of queries) {
    it(`T16: POST with ${row} → 400 invalid_request (OAuth 2.1 §3.2)`, async () => {
      expectError(await post(`${url('/token')}?${query}`, form, 'client_id' in form ? undefined : OPS_BOT), 400, 'invalid_request');
    });
  }

  it('T17: Cache-Control: no-store and Pragma: no-cache on success and on every error (OAuth 2.1 §3.2.3)', async () => {
    const success = await post(url('/token'), { ...CC, scope: 'tools.access' }, OPS_BOT);
    assert.equal(success.status, 200);
    assert.equal(field(success, 'token_type'), 'Bearer');
    const replies = [
      success,
      await post(url('/token'), { ...CC, scope: 'admin' }, OPS_BOT),
      await post(url('/token'), CC, basic(DEMO.opsBot.id, 'wrong-secret')),
      await call(url('/token'), { method: 'GET' }),
      await post(url('/introspect'), { token: 'x' }, OPS_BOT),
    ];
    for (const reply of replies) {
      assert.equal(reply.headers.get('cache-control'), 'no-store', `status ${reply.status}`);
      assert.equal(reply.headers.get('pragma'), 'no-cache', `status ${reply.status}`);
    }
  });

  const json = (form: string) => JSON.stringify(Object.fromEntries(new URLSearchParams(form)));
  const contentTypes: { row: string; contentType?: string; body: (form: string) => string | Blob }[] = [
    { row: 'application/json', contentType: 'application/json', body: json },
    { row: 'malformed application/json', contentType: 'application/json', body: () => '{"grant_type":' },
    { row: 'text/plain', contentType: 'text/plain', body: (form) => form },
    { row: 'application/xml', contentType: 'application/xml', body: () => '<grant_type>client_credentials</grant_type>' },
    { row: 'multipart/form-data', contentType: 'multipart/form-data; boundary=x', body: () => '--x\r\n\r\nx\r\n--x--\r\n' },
    { row: 'no Content-Type at all', body: (form) => new Blob([form]) },
  ];
  const endpoints = [
    { path: '/token', form: 'grant_type=client_credentials' },
    { path: '/introspect', form: 'token=not-a-token' },
    { path: '/revoke', form: 'token=not-a-token' },
  ];
  for (const { path, form } of endpoints) {
    for (const { row, contentType, body } of contentTypes) {
      it(`J3: ${row} at ${path} → 400 invalid_request (OAuth 2.1 §3.2.2)`, async () => {
        const headers: Record<string, string> = { authorization: OPS_BOT };
        if (contentType !== undefined) headers['content-type'] = contentType;
        expectError(await call(url(path), { method: 'POST', headers, body: body(form) }), 400, 'invalid_request');
      });
    }
    it(`J2: a body over 64 KiB at ${path} → 413 payload_too_large, before any parsing (RFC 9396 §12)`, async () => {
      const reply = await post(url(path), { ...CC, token: 'x', padding: 'a'.repeat(64 * 1024) }, OPS_BOT);
      expectError(reply, 413, 'payload_too_large');
    });
  }

  it('J2: a body just under 64 KiB with an unknown parameter is served (A10: unknown parameters are ignored)', async () => {
    const reply = await post(url('/token'), { ...CC, padding: 'a'.repeat(60 * 1024) }, OPS_BOT);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
  });

  const CC_BASIC = 'grant_type=client_credentials';
  const CC_POST = `${CC_BASIC}&client_id=ops-bot`;
  const duplicates: { row: string; auth?: string; form: string }[] = [
    { row: 'grant_type', auth: OPS_BOT, form: `${CC_BASIC}&${CC_BASIC}` },
    { row: 'grant_type (with two different values)', auth: OPS_BOT, form: `${CC_BASIC}&grant_type=password` },
    { row: 'scope', auth: OPS_BOT, form: `${CC_BASIC}&scope=tools.access&scope=tools.access` },
    { row: 'client_id', form: `${CC_POST}&client_id=ops-bot&client_secret=${DEMO.opsBot.secret}` },
    { row: 'client_secret', form: `${CC_POST}&client_secret=wrong-secret&client_secret=${DEMO.opsBot.secret}` },
  ];
  for (const { row, auth, form } of duplicates) {
    it(`A9: ${row} sent twice at /token → 400 invalid_request (OAuth 2.1 §3.1)`, async () => {
      expectError(await post(url('/token'), form, auth), 400, 'invalid_request');
    });
  }

  it('T15: resource sent twice at /token → 400 invalid_target (RFC 8707 §2; one audience per token, ADR 0002)', async () => {
    const form = `${CC_BASIC}&resource=${encodeURIComponent(DEMO.gateway)}&resource=${encodeURIComponent(DEMO.gateway)}`;
    expectError(await post(url('/token'), form, OPS_BOT), 400, 'invalid_target');
  });
});
