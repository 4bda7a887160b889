/**
 * SECURITY.md "Refresh" (R1–R4, R6) over raw HTTP. R5 (authorization_details
 * widening) waits for Rich Authorization Requests.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest, discover } from '../helpers/clients.js';
import { basic, expectError, field, post, type Reply } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const ASSISTANT = basic(DEMO.assistant.id, DEMO.assistant.secret);
const CLI_REDIRECT = 'http://127.0.0.1:53117/callback';
const FULL_SCOPE = 'openid profile email';

interface Tokens {
  readonly access: string;
  readonly refresh: string;
}

function tokensOf(reply: Reply): Tokens {
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  return { access: field(reply, 'access_token'), refresh: field(reply, 'refresh_token') };
}

/** Who presents a token at /token: the confidential assistant (Basic) or the public palisade-cli (client_id only). */
interface Caller {
  readonly name: string;
  readonly form: Record<string, string>;
  readonly authorization?: string;
}
const AS_ASSISTANT: Caller = { name: 'assistant', form: {}, authorization: ASSISTANT };
const AS_CLI: Caller = { name: 'palisade-cli', form: { client_id: DEMO.cli.id } };

describe('refresh tokens: rotation, reuse detection, binding, scope, revocation (SECURITY R1–R4, R6)', () => {
  let server: TestIdp;
  let assistantConfig: client.Configuration;
  let cliConfig: client.Configuration;
  let browser: ScriptedBrowser;
  before(async () => {
    server = await startTestIdp();
    assistantConfig = await assistant(server.issuer);
    cliConfig = await discover(server.issuer, DEMO.cli.id, client.None());
    browser = new ScriptedBrowser(server.issuer);
  });
  after(() => server.close());

  const url = (path: string) => server.issuer + path;

  /** Bob signs in (one SSO session for the block) and the caller redeems the code. */
  async function signIn(caller: Caller = AS_ASSISTANT, scope = FULL_SCOPE): Promise<Tokens> {
    const cli = caller === AS_CLI;
    const redirectUri = cli ? CLI_REDIRECT : DEMO.assistant.redirectUri;
    const request = await authorizationRequest(cli ? cliConfig : assistantConfig, { scope, redirect_uri: redirectUri });
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    const code = callback.searchParams.get('code');
    assert.ok(code, `no code in ${callback.href}`);
    const form = { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: request.verifier, ...caller.form };
    return tokensOf(await post(url('/token'), form, caller.authorization));
  }

  function refresh(token: string, extra: Record<string, string> = {}, caller: Caller = AS_ASSISTANT): Promise<Reply> {
    return post(url('/token'), { grant_type: 'refresh_token', refresh_token: token, ...caller.form, ...extra }, caller.authorization);
  }

  async function introspect(token: string): Promise<Record<string, unknown>> {
    const reply = await post(url('/introspect'), { token }, ASSISTANT);
    assert.equal(reply.status, 200);
    return reply.body;
  }

  async function assertFamilyRevoked(family: readonly Tokens[]): Promise<void> {
    for (const [i, tokens] of family.entries()) {
      assert.equal((await introspect(tokens.access)).active, false, `access token #${i} of the family`);
      assert.equal((await introspect(tokens.refresh)).active, false, `refresh token #${i} of the family`);
      expectError(await refresh(tokens.refresh), 400, 'invalid_grant');
    }
  }

  it('R1: replaying a rotated refresh token → 400 invalid_grant, and the whole family is revoked, newest included (OAuth 2.1 §4.3.1; RFC 9700 §4.14.2)', async () => {
    const first = await signIn();
    const second = tokensOf(await refresh(first.refresh));
    assert.notEqual(second.refresh, first.refresh, 'rotated on use');
    const third = tokensOf(await refresh(second.refresh));
    assert.equal((await introspect(third.access)).active, true);
    assert.equal((await introspect(third.refresh)).active, true);

    expectError(await refresh(first.refresh), 400, 'invalid_grant');
    await assertFamilyRevoked([first, second, third]);
  });

  it('R1: a rotated refresh token replayed with a scope or resource parameter is still reuse: 400 invalid_grant, family revoked (RFC 9700 §4.14.2)', async () => {
    for (const extra of [{ scope: 'openid admin' }, { resource: DEMO.gateway }]) {
      const first = await signIn();
      const second = tokensOf(await refresh(first.refresh));
      expectError(await refresh(first.refresh, extra), 400, 'invalid_grant');
      await assertFamilyRevoked([first, second]);
    }
  });

  it('R2: two parallel refreshes with one token: exactly one 200, the other 400 invalid_grant, and the family is revoked (RFC 9700 §4.14.2)', async () => {
    const family = await signIn();
    const replies = await Promise.all([refresh(family.refresh), refresh(family.refresh)]);
    assert.deepEqual(replies.map((r) => r.status).sort(), [200, 400]);
    const winner = replies.find((r) => r.status === 200);
    const loser = replies.find((r) => r.status !== 200);
    assert.ok(winner && loser);
    expectError(loser, 400, 'invalid_grant');
    // Whichever request the store served first, the winner's new tokens belong to the revoked family.
    await assertFamilyRevoked([family, tokensOf(winner)]);
  });

  const crossings = [
    { owner: AS_ASSISTANT, thief: AS_CLI },
    { owner: AS_CLI, thief: AS_ASSISTANT },
  ];
  for (const { owner, thief } of crossings) {
    it(`R3: ${owner.name}'s refresh token presented by ${thief.name} → 400 invalid_grant, and ${owner.name} can still use it (OAuth 2.1 §4.3.1)`, async () => {
      const tokens = await signIn(owner, 'openid');
      expectError(await refresh(tokens.refresh, {}, thief), 400, 'invalid_grant');
      const reply = await refresh(tokens.refresh, {}, owner);
      assert.equal(reply.status, 200, 'no denial of service: the refused attempt neither consumed nor revoked the token');
      assert.equal(decodeJwt(field(reply, 'access_token')).client_id, owner.name);
    });
  }

  it("R3: a refresh token presented without the owner's client authentication → 401 invalid_client, and it still works (OAuth 2.1 §4.3.1)", async () => {
    const tokens = await signIn();
    expectError(await refresh(tokens.refresh, { client_id: DEMO.assistant.id }, { name: 'nobody', form: {} }), 401, 'invalid_client');
    expectError(
      await refresh(tokens.refresh, {}, { name: 'wrong secret', form: {}, authorization: basic(DEMO.assistant.id, 'wrong-secret') }),
      401,
      'invalid_client',
    );
    tokensOf(await refresh(tokens.refresh));
  });

  const widenings = [
    { row: 'a scope the client may have but the grant lacks', scope: `${FULL_SCOPE} tools.access` },
    { row: 'offline_access, never granted', scope: 'openid offline_access' },
    { row: 'an unknown scope', scope: 'openid admin' },
  ];
  for (const { row, scope } of widenings) {
    it(`R4: widening with ${row} → 400 invalid_scope, and the refresh token stays usable (OAuth 2.1 §4.3; RFC 6749 §6)`, async () => {
      const tokens = await signIn();
      expectError(await refresh(tokens.refresh, { scope }), 400, 'invalid_scope');
      const reply = await refresh(tokens.refresh);
      assert.equal(reply.status, 200, `a refused request must not rotate the token away: ${JSON.stringify(reply.body)}`);
      assert.equal(field(reply, 'scope'), FULL_SCOPE);
    });
  }

  it('R4: narrowing → 200 with the narrowed scope on the access token only; the next refresh without scope gets the full scope back (OAuth 2.1 §4.3.1)', async () => {
    const first = await signIn();
    const narrowed = await refresh(first.refresh, { scope: 'openid email' });
    const second = tokensOf(narrowed);
    assert.equal(field(narrowed, 'scope'), 'openid email');
    assert.equal(decodeJwt(second.access).scope, 'openid email');
    assert.equal((await introspect(second.access)).scope, 'openid email');
    assert.equal((await introspect(second.refresh)).scope, FULL_SCOPE, 'the refresh token keeps the grant scope');

    const restored = await refresh(second.refresh);
    const third = tokensOf(restored);
    assert.equal(field(restored, 'scope'), FULL_SCOPE);
    assert.equal(decodeJwt(third.access).scope, FULL_SCOPE);
  });

  it('R4: narrowing to a scope without openid issues no ID token (OIDC Core §12.2)', async () => {
    const tokens = await signIn();
    const reply = await refresh(tokens.refresh, { scope: 'email' });
    assert.equal(reply.status, 200);
    assert.equal(field(reply, 'scope'), 'email');
    assert.equal(reply.body.id_token, undefined);
  });

  it('R4: a resource other than the granted one → 400 invalid_target, and the refresh token stays usable (RFC 8707 §2.2)', async () => {
    const tokens = await signIn();
    expectError(await refresh(tokens.refresh, { resource: DEMO.gateway }), 400, 'invalid_target');
    tokensOf(await refresh(tokens.refresh));
  });

  const hints = [
    { row: 'without token_type_hint', hint: {} },
    { row: 'with token_type_hint=refresh_token', hint: { token_type_hint: 'refresh_token' } },
    { row: 'with a wrong token_type_hint=access_token', hint: { token_type_hint: 'access_token' } },
  ];
  for (const { row, hint } of hints) {
    it(`R6: refresh after the refresh token was revoked at /revoke ${row} → 400 invalid_grant, its access token inactive too (RFC 7009 §2.1)`, async () => {
      const tokens = await signIn();
      const revoked = await post(url('/revoke'), { token: tokens.refresh, ...hint }, ASSISTANT);
      assert.equal(revoked.status, 200);
      assert.equal(revoked.headers.get('cache-control'), 'no-store');
      expectError(await refresh(tokens.refresh), 400, 'invalid_grant');
      assert.equal((await introspect(tokens.access)).active, false);
    });
  }

  it('R6: revoking only the access token leaves the refresh token working (RFC 7009 §2.1: MAY, Palisade does not)', async () => {
    const tokens = await signIn();
    assert.equal((await post(url('/revoke'), { token: tokens.access }, ASSISTANT)).status, 200);
    assert.equal((await introspect(tokens.access)).active, false);
    tokensOf(await refresh(tokens.refresh));
  });

  it('R6: another client cannot revoke the refresh token: 200, nothing changes (RFC 7009 §2.1, §2.2)', async () => {
    const tokens = await signIn();
    const attempt = await post(url('/revoke'), { token: tokens.refresh, client_id: DEMO.cli.id });
    assert.equal(attempt.status, 200, "no oracle for other clients' tokens");
    tokensOf(await refresh(tokens.refresh));
  });

  it('R6: a second redemption of the code that started the family revokes the refresh token (OAuth 2.1 §4.1.3)', async () => {
    const request = await authorizationRequest(assistantConfig, { scope: FULL_SCOPE });
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    const form = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: DEMO.assistant.redirectUri,
      code_verifier: request.verifier,
    };
    const tokens = tokensOf(await post(url('/token'), form, ASSISTANT));
    const rotated = tokensOf(await refresh(tokens.refresh));
    expectError(await post(url('/token'), form, ASSISTANT), 400, 'invalid_grant');
    expectError(await refresh(rotated.refresh), 400, 'invalid_grant');
  });

  it('RX1 (not in the catalogue): a refresh token is no authorization code, and an access token or a code is no refresh token → 400 invalid_grant (OAuth 2.1 §4.3)', async () => {
    const tokens = await signIn();
    const asCode = {
      grant_type: 'authorization_code',
      code: tokens.refresh,
      redirect_uri: DEMO.assistant.redirectUri,
      code_verifier: 'A'.repeat(43),
    };
    expectError(await post(url('/token'), asCode, ASSISTANT), 400, 'invalid_grant');
    expectError(await refresh(tokens.access), 400, 'invalid_grant');
    const request = await authorizationRequest(assistantConfig);
    const code = (await authorizeInBrowser(browser, request.url, { ...DEMO.bob })).searchParams.get('code') ?? '';
    expectError(await refresh(code), 400, 'invalid_grant');
    tokensOf(await refresh(tokens.refresh));
  });

  it('RX2 (not in the catalogue): a refresh request without refresh_token → 400 invalid_request; with refresh_token twice → 400 invalid_request (RFC 6749 §5.2; OAuth 2.1 §3.1)', async () => {
    const tokens = await signIn();
    expectError(await post(url('/token'), { grant_type: 'refresh_token' }, ASSISTANT), 400, 'invalid_request');
    const twice = `grant_type=refresh_token&refresh_token=${tokens.refresh}&refresh_token=${tokens.refresh}`;
    expectError(await post(url('/token'), twice, ASSISTANT), 400, 'invalid_request');
    tokensOf(await refresh(tokens.refresh));
  });

  it('T17: refresh responses, success and error, carry Cache-Control: no-store (OAuth 2.1 §3.2.3)', async () => {
    const tokens = await signIn();
    const ok = await refresh(tokens.refresh);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    const refused = await refresh(tokens.refresh);
    expectError(refused, 400, 'invalid_grant');
    assert.equal(refused.headers.get('cache-control'), 'no-store');
  });
});

describe('refresh token lifetimes (OAuth 2.1 §4.3.1; RFC 9700 §4.14.2)', () => {
  let server: TestIdp;
  let config: client.Configuration;
  let browser: ScriptedBrowser;
  before(async () => {
    server = await startTestIdp({
      mutate: (doc) => {
        doc.lifetimes = { ...(doc.lifetimes as object), refresh_token: 1000, refresh_token_idle: 400 };
      },
    });
    config = await assistant(server.issuer);
    browser = new ScriptedBrowser(server.issuer);
  });
  after(() => server.close());

  async function signIn(): Promise<string> {
    const request = await authorizationRequest(config);
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    const form = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: DEMO.assistant.redirectUri,
      code_verifier: request.verifier,
    };
    return field(await post(`${server.issuer}/token`, form, ASSISTANT), 'refresh_token');
  }
  const refresh = (token: string) => post(`${server.issuer}/token`, { grant_type: 'refresh_token', refresh_token: token }, ASSISTANT);

  it('RX3 (not in the catalogue): an idle refresh token expires → 400 invalid_grant', async () => {
    const token = await signIn();
    server.clock.advance(401);
    expectError(await refresh(token), 400, 'invalid_grant');
  });

  it('RX4 (not in the catalogue): rotation never extends the family beyond the absolute lifetime → 400 invalid_grant', async () => {
    let token = await signIn();
    for (let elapsed = 0; elapsed < 900; elapsed += 300) {
      server.clock.advance(300);
      token = field(await refresh(token), 'refresh_token');
    }
    server.clock.advance(101);
    expectError(await refresh(token), 400, 'invalid_grant');
  });
});
