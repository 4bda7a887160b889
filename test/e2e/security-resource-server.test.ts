/**
 * SECURITY.md "Resource server and MCP gateway" (M1–M9) and "JOSE and HTTP" (J1–J2) against the resource-server
 * SDK as the demo files and reports tools use it, over real HTTP. Tokens come from the real flows (PAR + login,
 * token exchange) or, to change exactly one thing, are signed here with the IdP's own key. Every refusal asserts
 * the status, the `error` code in the challenge and in the body, and that no token text comes back.
 */
import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TokenVerifier } from '@palisade/resource-server';
import { createFilesTool, createReportsTool } from '@palisade/tools-demo';
import { CompactSign, decodeJwt, exportJWK, generateKeyPair, importJWK, type JWK, type JWTHeaderParameters, SignJWT } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { ExchangingService } from '../helpers/exchange.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { startTestTools, type TestTools } from '../helpers/tools.js';

const { files: FILES, reports: REPORTS } = DEMO.tools;
const Q4_PATH = '/finance/Q4-report.pdf';
const Q4_TEXT = /^Q4 2026 financial report\./;
/** The `file_access` detail a files route requires (issue 6). */
const need = (folder: string, action: string, identifier?: string) => ({
  type: 'file_access',
  locations: [`${FILES}/${folder}`],
  actions: [action],
  ...(identifier === undefined ? {} : { identifier }),
});
const Q4 = need('finance', 'read', 'Q4-report.pdf');
const metadataOf = (audience: string) => `${audience}/.well-known/oauth-protected-resource`;
/** The verifier's private reasons (jose error codes): logged, never sent; they show which check refused a token. */
const [CLAIM, EXPIRED, ALG] = ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'ERR_JWT_EXPIRED', 'ERR_JOSE_ALG_NOT_ALLOWED'] as const;
const [NO_KEY, SIGNATURE] = ['ERR_JWKS_NO_MATCHING_KEY', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'] as const;
const [JWS, JWT] = ['ERR_JWS_INVALID', 'ERR_JWT_INVALID'] as const;

type Answer = { readonly status: number; readonly headers: Headers; readonly text: string; readonly body: Record<string, unknown> };

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, headers: response.headers, text, body: json ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const json = (value: object, headers: Record<string, string> = {}) => ({
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(value),
});
const Q4_FILE = { folder: 'finance', name: 'Q4-report.pdf' };
/** POST /summaries at a reports tool (issue 6). */
const summarise = (reports: string, value: object, headers: Record<string, string> = {}) =>
  call(`${reports}/summaries`, { method: 'POST', headers: { ...json(value).headers, ...headers }, body: json(value).body });

/** Neither the token nor any sizeable piece of it comes back in the body or a header (STYLE: never a token in an error). */
function noTokenText(answer: Answer, tokens: readonly string[]): void {
  let everything = answer.text;
  answer.headers.forEach((value, name) => {
    everything += `\n${name}: ${value}`;
  });
  for (const piece of tokens.flatMap((token) => [token, ...token.split('.')]).filter((p) => p.length >= 12))
    assert.ok(!everything.includes(piece), `token text in the ${answer.status} answer`);
}

/** RFC 6750 §3, RFC 9728 §5.1: the status, a challenge naming the resource metadata, one `error` in challenge and body. */
function refused(answer: Answer, status: 401 | 403, error: string, tokens: readonly string[], audience: string = FILES): void {
  const challenge = answer.headers.get('www-authenticate') ?? '';
  assert.deepEqual({ status: answer.status, error: answer.body.error }, { status, error }, answer.text);
  assert.ok(challenge.startsWith(`Bearer resource_metadata="${metadataOf(audience)}", error="${error}"`), challenge);
  noTokenText(answer, tokens);
}

/** A throwaway HTTP server on an ephemeral loopback port. */
async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A user's token from the assistant for the MCP gateway (PAR, PKCE, the real login pages), with its ID token. */
async function login(server: TestIdp, user: 'alice' | 'bob', details: readonly object[] = []): Promise<client.TokenEndpointResponse> {
  const config = await assistant(server.issuer);
  const rar = details.length > 0 ? { authorization_details: JSON.stringify(details) } : {};
  const request = await authorizationRequest(config, { scope: 'openid tools.access', resource: DEMO.gateway, ...rar });
  // TOTP codes are single-use per 30 s step (RFC 6238 §5.2).
  if (user === 'alice') server.clock.advance(30);
  const script = user === 'alice' ? { ...DEMO.alice, now: server.clock.now() } : DEMO.bob;
  const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, script);
  const checks = { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce };
  return client.authorizationCodeGrant(config, callback, checks);
}

type Signer = { readonly kid: string; readonly alg: string; readonly key: Parameters<SignJWT['sign']>[0] };
type Claims = Record<string, unknown> | ((now: number) => Record<string, unknown>);
const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * A files token shaped as the IdP issues it (RFC 9068 §2), signed by `signer` (the IdP's own ES256 key unless
 * given); `claims` and `header` override members, `undefined` drops one.
 */
async function forge(server: TestIdp, claims: Claims = {}, header: Record<string, unknown> = {}, signer?: Signer): Promise<string> {
  const key = signer ?? server.idp.context.keystore.signingKey('ES256');
  const now = server.clock.now();
  const base = { iss: server.issuer, sub: 'alice', aud: FILES, client_id: DEMO.mcpGateway.id, authorization_details: [Q4] };
  const payload = drop({ ...base, jti: randomUUID(), iat: now, exp: now + 300, ...(typeof claims === 'function' ? claims(now) : claims) });
  const protectedHeader = drop({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header }) as JWTHeaderParameters;
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key.key);
}

/** An attacker's own key pair, with a kid the IdP never issued. */
async function attackerKey(): Promise<{ signer: Signer; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `attacker-${randomUUID()}`;
  return { signer: { kid, alg: 'ES256', key: privateKey }, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const verifierOf = (server: TestIdp, jwksUri?: string) =>
  new TokenVerifier({ issuer: server.issuer, audience: FILES, now: () => server.clock.now(), ...(jwksUri ? { jwksUri } : {}) });
const segment = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

describe('resource-server SDK at the demo files and reports tools (SECURITY M1–M9, J1–J2)', () => {
  let server: TestIdp;
  let tools: TestTools;
  let gateway: ExchangingService;
  let alice: client.TokenEndpointResponse;
  /** alice's tokens for files and reports, narrowed by the gateway to reading Q4-report.pdf (RFC 8693, RFC 9396). */
  let filesQ4: string;
  let reportsQ4: string;
  /** bob's token for files: no authorization_details (nor scope: `tools.access` does not flow past the gateway). */
  let bobFiles: string;
  let attacker: { signer: Signer; jwk: JWK };
  /** The attacker's key server: nothing may ever ask it for anything (M5). */
  let evil: { url: string; close(): Promise<void> };
  let evilHits = 0;

  before(async () => {
    server = await startTestIdp();
    tools = await startTestTools(server.issuer, () => server.clock.now());
    gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    alice = await login(server, 'alice', [Q4]);
    const narrowed = { authorization_details: JSON.stringify([Q4]) };
    filesQ4 = (await gateway.exchange(alice.access_token, { audience: FILES, ...narrowed })).access_token;
    reportsQ4 = (await gateway.exchange(alice.access_token, { audience: REPORTS, ...narrowed })).access_token;
    bobFiles = (await gateway.exchange((await login(server, 'bob')).access_token, { audience: FILES })).access_token;
    assert.deepEqual([decodeJwt(bobFiles).sub, decodeJwt(bobFiles).authorization_details], ['bob', undefined]);
    attacker = await attackerKey();
    evil = await listen((_request, response) => {
      evilHits++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [attacker.jwk] }));
    });
  });
  after(async () => {
    await tools.close();
    await evil.close();
    await server.close();
  });

  const file = (path: string, init: RequestInit = {}) => call(`${tools.files}${path}`, init);
  const read = (token: string, path = Q4_PATH) => file(path, { headers: bearer(token) });

  it('M2, M7 control: the narrowed token reads Q4-report.pdf; files sees alice and the chain that acted for her', async () => {
    const answer = await read(filesQ4);
    assert.equal(answer.status, 200);
    assert.match(answer.text, Q4_TEXT);
    const seen = [answer.headers.get('x-palisade-subject'), answer.headers.get('x-palisade-actors')];
    assert.deepEqual(seen, ['alice', 'mcp-gateway assistant']);
  });

  for (const [id, method, path, authorization] of [
    ['M1a', 'GET', Q4_PATH, undefined],
    ['M1b', 'GET', '/finance/', undefined],
    ['M1c', 'PUT', Q4_PATH, undefined],
    ['M1d', 'DELETE', Q4_PATH, undefined],
    // RFC 6750 §3.1: "attempted using an unsupported authentication method" is no token either: no error code.
    ['M1e', 'GET', Q4_PATH, `Basic ${Buffer.from('alice:alice-password').toString('base64')}`],
  ] as const)
    it(`${id}: ${method} ${path}, ${authorization ? 'Basic credentials' : 'no token'} → 401, bare challenge (MCP; RFC 9728 §5.1)`, async () => {
      const headers = { 'content-type': 'text/plain', ...(authorization ? { authorization } : {}) };
      const answer = await file(path, { method, headers, ...(method === 'PUT' ? { body: 'x' } : {}) });
      assert.equal(answer.status, 401);
      const params = `resource_metadata="${metadataOf(FILES)}"`;
      assert.equal(answer.headers.get('www-authenticate'), `Bearer ${params}, DPoP ${params}, algs="ES256 ES384 EdDSA RS256 PS256"`);
      assert.equal(answer.text, '');
    });

  it('M1f: Protected Resource Metadata at /.well-known/oauth-protected-resource names the resource and its IdP (RFC 9728 §2, §3)', async () => {
    const { status, body: prm } = await file('/.well-known/oauth-protected-resource');
    const got = [status, prm.resource, prm.authorization_servers, prm.bearer_methods_supported, prm.authorization_details_types_supported];
    assert.deepEqual(got, [200, FILES, [server.issuer], ['header'], ['file_access']]);
  });

  /** `expected`: 'accepted', or the verifier's reason for refusing. */
  type Row = readonly [id: string, what: string, make: () => string | Promise<string>, expected: string];
  /**
   * Each row changes one thing of a token files accepts; controls sit next to their refusals. A refusal is 401
   * invalid_token over HTTP, and the SDK verifier's private reason names the check meant, so no row passes
   * because another check fired first.
   */
  function table(source: string, rows: readonly Row[]): void {
    for (const [id, what, make, expected] of rows)
      it(`${id}: ${what} (${source}) → ${expected === 'accepted' ? '200' : '401 invalid_token'}`, async () => {
        const token = await make();
        const answer = await read(token);
        if (expected === 'accepted') return assert.equal(answer.status, 200, answer.text);
        refused(answer, 401, 'invalid_token', [token]);
        await assert.rejects(verifierOf(server).verify(token), { error: 'invalid_token', detail: expected });
      });
  }
  const f =
    (claims: Claims = {}, header: Record<string, unknown> = {}) =>
    () =>
      forge(server, claims, header);
  const part = (i: number) => filesQ4.split('.')[i] ?? '';
  /** filesQ4 with some of its segments replaced. */
  const splice = (header = part(0), payload = part(1), signature = part(2)) => `${header}.${payload}.${signature}`;
  const notJson = () => {
    const { kid, alg, key } = server.idp.context.keystore.signingKey('ES256');
    return new CompactSign(Buffer.from('not json')).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(key);
  };
  const idpKid = () => server.idp.context.keystore.signingKey('ES256').kid;
  const publicJwk = async (alg: string): Promise<JWK> => {
    const { keys } = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: JWK[] };
    return keys.find((k) => k.alg === alg) ?? assert.fail(`no ${alg} key`);
  };
  const spki = (jwk: JWK, format: 'pem' | 'der') => {
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    return Buffer.from(format === 'pem' ? key.export({ type: 'spki', format }) : key.export({ type: 'spki', format }));
  };
  /** HS256 under the kid of the IdP's `alg` key, keyed with bytes of that public key (algorithm confusion). */
  const hmac = (alg: string, secret: (jwk: JWK) => Uint8Array) => async () => {
    const jwk = await publicJwk(alg);
    return forge(server, {}, {}, { kid: jwk.kid ?? '', alg: 'HS256', key: secret(jwk) });
  };
  /** Signed with `alg` by the IdP's active RSA key, which it publishes for RS256 only. */
  const rsa = (alg: 'RS256' | 'PS256') => async () => {
    const records = await server.idp.context.store.list<{ alg: string; status: string; kid: string; privateJwk: JWK }>('signing_key');
    const key = records.map((r) => r.value).find((k) => k.alg === 'RS256' && k.status === 'active') ?? assert.fail('no RS256 key');
    return forge(server, {}, {}, { kid: key.kid, alg, key: await importJWK({ ...key.privateJwk, alg }, alg) });
  };
  /** Signed by the attacker's own key, with `header` pointing somewhere. */
  const evilSigned = (header: () => Record<string, unknown>) => () => forge(server, {}, header(), attacker.signer);

  table('RFC 8707 §2; BCP §4.10', [
    ['M2a', "alice's MCP-gateway token at files: the caller's own token passed through", () => alice.access_token, CLAIM],
    ['M2b', "alice's reports token replayed at files: Tool A's token at Tool B", () => reportsQ4, CLAIM],
    ['M2c', 'aud with a trailing slash: audiences are exact strings', f({ aud: `${FILES}/` }), CLAIM],
    ['M2d', 'control: the same hand-signed token, aud exactly files', f(), 'accepted'],
  ]);
  table('JWT-BCP §3.1; RFC 7515 §4.1.1', [
    ['M3a', 'alg none, signature dropped', () => splice(segment({ alg: 'none', typ: 'at+jwt' }), undefined, ''), ALG],
    ['M3b', 'alg "None", real signature kept', () => splice(segment({ alg: 'None', typ: 'at+jwt' })), ALG],
    ['M3c', 'no alg member, real kid and signature', () => splice(segment({ kid: idpKid(), typ: 'at+jwt' })), JWS],
    ['M4a', 'HS256 keyed with the IdP ES256 public key, SPKI PEM', hmac('ES256', (jwk) => spki(jwk, 'pem')), ALG],
    ['M4b', 'HS256 keyed with the IdP ES256 public key, SPKI DER', hmac('ES256', (jwk) => spki(jwk, 'der')), ALG],
    ['M4c', 'HS256 keyed with the published ES256 JWK', hmac('ES256', (jwk) => Buffer.from(JSON.stringify(jwk))), ALG],
    ['M4d', 'HS256 keyed with the IdP RS256 public key, SPKI PEM', hmac('RS256', (jwk) => spki(jwk, 'pem')), ALG],
    ['M4e', "PS256 truly signed with the IdP's RS256 key: alg pinned per key", rsa('PS256'), NO_KEY],
    ['M4f', 'control: RS256 signed with that key', rsa('RS256'), 'accepted'],
  ]);
  table('JWT-BCP §3.10', [
    ['M5a', "jku at the attacker's JWKS", evilSigned(() => ({ jku: `${evil.url}/jwks` })), NO_KEY],
    ['M5b', "jku at the attacker's JWKS, under the IdP's kid", evilSigned(() => ({ jku: `${evil.url}/jwks`, kid: idpKid() })), SIGNATURE],
    ['M5c', "x5u at the attacker's server", evilSigned(() => ({ x5u: `${evil.url}/cert.pem` })), NO_KEY],
    ['M5d', "embedded jwk: the attacker's public key", evilSigned(() => ({ jwk: attacker.jwk })), NO_KEY],
    ['M5e', "embedded jwk under the IdP's kid", evilSigned(() => ({ jwk: attacker.jwk, kid: idpKid() })), SIGNATURE],
  ]);

  it("M5f: nothing ever fetched the jku or x5u URLs: only the IdP's JWKS is used (JWT-BCP §3.10)", () => assert.equal(evilHits, 0));

  table('RFC 9068 §4; RFC 7519 §4.1', [
    ['M6a', 'expired 31 s ago, past the 30 s skew', f((t) => ({ exp: t - 31 })), EXPIRED],
    ['M6b', 'control: expired 29 s ago, within the skew', f((t) => ({ exp: t - 29 })), 'accepted'],
    ['M6c', 'nbf 31 s ahead', f((t) => ({ nbf: t + 31 })), CLAIM],
    ['M6d', 'control: nbf 29 s ahead, within the skew', f((t) => ({ nbf: t + 29 })), 'accepted'],
    ['M6e', "iss of another IdP, signed with this IdP's key", f({ iss: 'http://127.0.0.1:1' }), CLAIM],
    ['M6m', 'iat 31 s ahead, past the skew', f((t) => ({ iat: t + 31 })), CLAIM],
    ['M6n', 'control: iat 29 s ahead, within the skew', f((t) => ({ iat: t + 29 })), 'accepted'],
    ['M6f', 'typ JWT, the ID-token type', f({}, { typ: 'JWT' }), CLAIM],
    ['M6g', 'typ missing', f({}, { typ: undefined }), CLAIM],
    ['M6h', 'control: typ application/at+jwt, the full media type', f({}, { typ: 'application/at+jwt' }), 'accepted'],
    ['M6i', 'no jti', f({ jti: undefined }), CLAIM],
    ['M6j', 'no client_id', f({ client_id: undefined }), CLAIM],
    ['M6k', 'no exp', f({ exp: undefined }), CLAIM],
    ['M6l', "alice's ID token from the assistant's code flow", () => alice.id_token ?? assert.fail('no ID token'), CLAIM],
  ]);
  table('RFC 7515 §3, §5.2, §7; RFC 7519 §7.2', [
    ['J1a', 'one segment', () => part(1), JWS],
    ['J1b', 'two segments', () => `${part(0)}.${part(1)}`, JWS],
    ['J1c', 'four segments', () => `${filesQ4}.${part(2)}`, JWS],
    ['J1d', 'five segments, a JWE shape', () => `${filesQ4}.${part(1)}.${part(2)}`, JWS],
    ['J1e', 'header not base64url: "+/" inside', () => splice(`+/${part(0)}`), JWS],
    ['J1f', 'header not JSON', () => splice(segment('not json')), JWS],
    ['J1g', 'header a JSON array', () => splice(segment([])), JWS],
    ['J1h', 'signature segment empty', () => splice(undefined, undefined, ''), SIGNATURE],
    ['J1i', 'JSON serialisation', () => JSON.stringify({ protected: part(0), payload: part(1), signature: part(2) }), JWS],
    ['J1j', 'payload not JSON, validly signed by the IdP key', notJson, JWT],
  ]);

  for (const [id, authorization] of [
    ['J1k', 'Bearer'],
    ['J1l', 'Bearer two words'],
    ['J1m', 'Bearer ey.J.h,x'],
  ] as const)
    it(`${id}: Authorization "${authorization}" is no b64token (RFC 6750 §2.1) → 401 invalid_token`, async () => {
      refused(await file(Q4_PATH, { headers: { authorization } }), 401, 'invalid_token', []);
    });

  const scopeOnly = () => forge(server, { scope: 'tools.access', authorization_details: undefined });
  for (const [id, what, token, method, required] of [
    ['M7a', 'the Q4 read token on budget-2027.xlsx', () => filesQ4, 'GET', need('finance', 'read', 'budget-2027.xlsx')],
    ['M7b', 'the read-only token for PUT', () => filesQ4, 'PUT', need('finance', 'write', 'Q4-report.pdf')],
    ['M7c', 'the read-only token for DELETE', () => filesQ4, 'DELETE', need('finance', 'delete', 'Q4-report.pdf')],
    ['M7d', 'the one-file token listing the folder', () => filesQ4, 'GET', need('finance', 'read')],
    ['M7e', 'the finance token in engineering', () => filesQ4, 'GET', need('engineering', 'read', 'architecture.md')],
    ['M7f', "bob's exchanged token, no details", () => bobFiles, 'GET', Q4],
    ['M7g', 'an IdP-signed token with scope tools.access and no details', scopeOnly, 'GET', Q4],
  ] as const)
    it(`${id}: ${what} → 403 insufficient_scope naming the detail needed (MCP; RFC 6750 §3.1; RFC 9396 §10)`, async () => {
      const credential = await token();
      const [location = ''] = required.locations;
      const path = `${location.slice(FILES.length)}/${'identifier' in required ? required.identifier : ''}`;
      const headers = { ...bearer(credential), 'content-type': 'text/plain' };
      const answer = await file(path, { method, headers, body: method === 'PUT' ? 'x' : null });
      refused(answer, 403, 'insufficient_scope', [credential]);
      assert.deepEqual(answer.body.authorization_details, [required]);
    });

  it('M7h: after the refused PUT and DELETE, Q4-report.pdf is unchanged', async () => assert.match((await read(filesQ4)).text, Q4_TEXT));

  it('M7i: reports refuses to summarise a file the caller was not granted, naming the read it needs (RFC 9396 §10)', async () => {
    const answer = await summarise(tools.reports, { folder: 'finance', name: 'budget-2027.xlsx' }, bearer(reportsQ4));
    refused(answer, 403, 'insufficient_scope', [reportsQ4], REPORTS);
    assert.deepEqual(answer.body.authorization_details, [need('finance', 'read', 'budget-2027.xlsx')]);
  });

  const inQuery = () => `${Q4_PATH}?access_token=${filesQ4}`;
  for (const [id, what, request] of [
    ['M8a', 'in the query string', () => file(inQuery())],
    ['M8b', 'in the query string beside a valid header (two methods)', () => file(inQuery(), { headers: bearer(filesQ4) })],
    [
      'M8g',
      'in a JSON body beside a valid header (two methods)',
      () => file(Q4_PATH, { method: 'PUT', ...json({ access_token: filesQ4 }, bearer(filesQ4)) }),
    ],
    [
      'M8h',
      'in the JSON body of a reports call beside a valid header',
      () => summarise(tools.reports, { access_token: reportsQ4, ...Q4_FILE }, bearer(reportsQ4)),
    ],
  ] as const)
    it(`${id}: token ${what} → 400 invalid_request (2.1 §5.1; RFC 6750 §2, §3.1)`, async () => {
      const answer = await request();
      assert.deepEqual({ status: answer.status, error: answer.body.error }, { status: 400, error: 'invalid_request' }, answer.text);
      // RFC 6750 §3 leaves a challenge on other statuses optional; the SDK keeps it to 401 and 403.
      assert.equal(answer.headers.get('www-authenticate'), null);
      noTokenText(answer, [filesQ4, reportsQ4]);
    });

  // Without an Authorization header the request is refused before its body is read at all: a token in the body is never seen.
  for (const [id, what, request] of [
    ['M8c', 'in a form body', () => file(Q4_PATH, { method: 'PUT', body: new URLSearchParams({ access_token: filesQ4 }) })],
    ['M8d', 'in a JSON body', () => file(Q4_PATH, { method: 'PUT', ...json({ access_token: filesQ4 }) })],
    ['M8e', 'in the JSON body of a reports call', () => summarise(tools.reports, { access_token: reportsQ4, ...Q4_FILE })],
  ] as const)
    it(`${id}: token ${what} and no header → 401 with the bare challenge, before the body is parsed (2.1 §5.1; RFC 6750 §3.1)`, async () => {
      const answer = await request();
      assert.equal(answer.status, 401, answer.text);
      assert.match(
        answer.headers.get('www-authenticate') ?? '',
        /^Bearer resource_metadata="([^"]+)", DPoP resource_metadata="\1", algs="[^"]+"$/,
      );
      noTokenText(answer, [filesQ4, reportsQ4]);
    });

  it('M8f: a parsed form body carrying access_token is refused by the SDK core, whatever the adapter (2.1 §5.1)', () => {
    const request = { headers: bearer(filesQ4), url: Q4_PATH, body: new URLSearchParams({ access_token: filesQ4 }) };
    assert.throws(() => verifierOf(server).bearerToken(request), { error: 'invalid_request', status: 400 });
  });

  /** An IdP-signed files token of about `length` characters, grown by a padding claim. */
  const sized = async (length: number) => {
    const base = (await forge(server, { pad: '' })).length;
    return forge(server, { pad: 'x'.repeat(Math.floor(((length - base) * 3) / 4)) });
  };

  it('J2a: a validly signed token over 8 KiB → 401 invalid_token; just under the limit → 200 (RFC 9396 §12)', async () => {
    const [under, over] = [await sized(8188), await sized(8200)];
    assert.ok(under.length <= 8192 && over.length > 8192, `${under.length} / ${over.length}`);
    assert.equal((await read(under)).status, 200);
    refused(await read(over), 401, 'invalid_token', [over]);
  });

  it('J2b: the size check precedes any key lookup or crypto: a fresh verifier asks for no keys (RFC 9396 §12)', async () => {
    let asked = 0;
    const keys = await listen((_request, response) => {
      asked++;
      response.writeHead(503).end();
    });
    try {
      const verifier = verifierOf(server, `${keys.url}/jwks`);
      await assert.rejects(verifier.verify(await sized(8200)), { error: 'invalid_token', detail: undefined });
      assert.equal(asked, 0);
      // Control: a token within the limit does reach for the keys (which this server cannot give).
      await assert.rejects(verifier.verify(await sized(8188)), { error: 'invalid_token' });
      assert.equal(asked, 1);
    } finally {
      await keys.close();
    }
  });

  it('J2c: an Authorization header of 64 KiB → 431 before the SDK runs (RFC 6585 §5; RFC 9396 §12)', async () => {
    const token = 'A'.repeat(64 * 1024);
    const answer = await read(token);
    assert.equal(answer.status, 431);
    noTokenText(answer, [token.slice(0, 64)]);
  });

  it('J2d: authorization_details nested 2,000 deep in a signed token → 403 insufficient_scope, no crash (RFC 9396 §12)', async () => {
    const deep = JSON.parse(`${'['.repeat(2000)}${']'.repeat(2000)}`) as unknown;
    const token = await forge(server, { authorization_details: [{ ...Q4, identifier: deep }] });
    refused(await read(token), 403, 'insufficient_scope', [token]);
  });

  it("M9: reports calls files with its own exchanged token, never the caller's (MCP token passthrough; RFC 8693 §4.1)", async () => {
    const forwarded: string[] = [];
    // Between reports and files: records the Authorization header files receives, passes everything on.
    const proxy = await listen((request, response) => {
      const authorization = request.headers.authorization ?? '';
      // reports binds its exchanged tokens to its own key (RFC 9449): the proof names this proxy's URL, so the Host goes along.
      assert.match(authorization, /^DPoP /);
      forwarded.push(authorization.replace(/^DPoP /, ''));
      // A transparent proxy: the request goes on as it came, Host included (fetch would put the files port there).
      const upstream = httpRequest(`${tools.files}${request.url ?? '/'}`, { headers: request.headers }, (answer) => {
        const seen = ['x-palisade-subject', 'x-palisade-actors'].map((name) => [name, String(answer.headers[name] ?? '')]);
        response.writeHead(answer.statusCode ?? 502, Object.fromEntries(seen));
        answer.pipe(response);
      });
      upstream.end();
    });
    const service = { clientId: DEMO.reportService.id, clientSecret: DEMO.reportService.secret, now: () => server.clock.now() };
    const reports = createReportsTool({ issuer: server.issuer, audience: REPORTS, filesAudience: FILES, filesUrl: proxy.url, ...service });
    try {
      const at = await reports.listen({ host: '127.0.0.1', port: 0 });
      const answer = await summarise(at, Q4_FILE, bearer(reportsQ4));
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.body.readAs, { subject: 'alice', actors: ['report-service', 'mcp-gateway', 'assistant'] });
      const [token = '', ...more] = forwarded;
      assert.equal(more.length, 0);
      // Same IdP key, same header segment; the claims and the signature must be the exchange's own.
      const [, claimsPart = '', signature = ''] = reportsQ4.split('.');
      assert.ok(token !== reportsQ4 && !token.includes(claimsPart) && !token.includes(signature));
      const { aud, sub, act, authorization_details } = decodeJwt(token);
      assert.deepEqual([aud, sub, (act as { sub?: unknown }).sub, authorization_details], [FILES, 'alice', 'report-service', [Q4]]);
      // Had reports passed the caller's token on, files would have refused it on aud (M2b).
      refused(await read(reportsQ4), 401, 'invalid_token', [reportsQ4]);
    } finally {
      await reports.close();
      await proxy.close();
    }
  });

  it('M6m: a files token from another IdP through its real flows → 401 (bob gets 403 from this IdP) (RFC 9068 §4)', async () => {
    const other = await startTestIdp();
    try {
      const otherGateway = await ExchangingService.connect(other.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
      const token = (await otherGateway.exchange((await login(other, 'bob')).access_token, { audience: FILES })).access_token;
      assert.deepEqual([decodeJwt(token).aud, decodeJwt(token).iss], [FILES, other.issuer]);
      refused(await read(token), 401, 'invalid_token', [token]);
      await assert.rejects(verifierOf(server).verify(token), { error: 'invalid_token', detail: NO_KEY });
    } finally {
      await other.close();
    }
  });

  // Last: it moves the IdP clock past every token of this block.
  it('M6n: the real narrowed token at exp + 30 s on the IdP clock → 401 invalid_token; a second earlier → 200 (RFC 9068 §4)', async () => {
    const narrowed = { audience: FILES, authorization_details: JSON.stringify([Q4]) };
    const token = (await gateway.exchange(alice.access_token, narrowed)).access_token;
    server.clock.advance((decodeJwt(token).exp ?? assert.fail('no exp')) + 29 - server.clock.now());
    assert.equal((await read(token)).status, 200);
    server.clock.advance(1);
    refused(await read(token), 401, 'invalid_token', [token]);
  });
});

describe('JWKS discovered from the issuer, refetched on an unknown kid at most once per cooldown (issue 6; JWT-BCP §3.10)', () => {
  let server: TestIdp;
  let fetched = 0;
  before(async () => {
    server = await startTestIdp();
    // Counts what reaches the IdP's JWKS endpoint, beside Fastify's own listener.
    server.idp.app.server.on('request', (request: IncomingMessage) => {
      if (request.url === '/jwks') fetched++;
    });
  });
  after(() => server.close());

  const unknownKids = async (count: number) => {
    const { signer } = await attackerKey();
    return Promise.all(Array.from({ length: count }, (_, i) => forge(server, {}, { kid: `unknown-${i}` }, signer)));
  };

  it('M5g: files fetches the JWKS once; 20 unknown kids inside the cooldown fetch nothing more → 401 (issue 6)', async () => {
    const files = createFilesTool({ issuer: server.issuer, audience: FILES, now: () => server.clock.now() });
    const at = await files.listen({ host: '127.0.0.1', port: 0 });
    try {
      const start = fetched;
      assert.equal((await call(`${at}${Q4_PATH}`, { headers: bearer(await forge(server)) })).status, 200);
      assert.equal(fetched - start, 1);
      const tokens = await unknownKids(20);
      const answers = await Promise.all(tokens.map((token) => call(`${at}${Q4_PATH}`, { headers: bearer(token) })));
      for (const [i, answer] of answers.entries()) refused(answer, 401, 'invalid_token', [tokens[i] ?? '']);
      assert.equal(fetched - start, 1);
    } finally {
      await files.close();
    }
  });

  it('M5h: past the cooldown, one refetch per burst: a rotated key is picked up, unknown kids stay refused (issue 6)', async () => {
    const cooldown = 0.25;
    const verifier = new TokenVerifier({ issuer: server.issuer, audience: FILES, jwksCooldown: cooldown, now: () => server.clock.now() });
    const start = fetched;
    await verifier.verify(await forge(server));
    assert.equal(fetched - start, 1);
    await server.idp.context.keystore.rotate();
    const rotated = await Promise.all(Array.from({ length: 10 }, () => forge(server)));
    const [first, second] = [await unknownKids(10), await unknownKids(10)];
    const refuse = (tokens: string[]) =>
      Promise.all(tokens.map((token) => assert.rejects(verifier.verify(token), { error: 'invalid_token', detail: NO_KEY })));
    await sleep(cooldown * 1000 + 20);
    await Promise.all(rotated.map((token) => verifier.verify(token)));
    assert.equal(fetched - start, 2, 'one refetch for ten tokens under the new kid');
    await refuse(first);
    assert.equal(fetched - start, 2, 'none inside the cooldown');
    await sleep(cooldown * 1000 + 20);
    await refuse(second);
    assert.equal(fetched - start, 3, 'one per cooldown');
  });
});
