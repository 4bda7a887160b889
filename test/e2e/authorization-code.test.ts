import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest, discover } from '../helpers/clients.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('authorization code + PKCE with openid-client 6 (OAuth 2.1 §4.1, OIDC Core §3.1)', () => {
  let server: TestIdp;
  let config: client.Configuration;
  before(async () => {
    server = await startTestIdp();
    config = await assistant(server.issuer);
  });
  after(() => server.close());

  async function signIn(browser: ScriptedBrowser, who: 'alice' | 'bob', parameters: Record<string, string> = {}, seen: string[] = []) {
    const request = await authorizationRequest(config, parameters);
    const user = DEMO[who];
    const callback = await authorizeInBrowser(browser, request.url, { ...user, now: server.clock.now() }, seen);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: parameters.scope === undefined || parameters.scope.includes('openid'),
    });
    return { tokens, callback, request };
  }

  it('signs alice in with password and TOTP, asks consent, returns a verified ID token (RFC 9207 iss checked)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const seen: string[] = [];
    const { tokens, callback } = await signIn(browser, 'alice', {}, seen);
    assert.deepEqual(seen, ['login', 'totp', 'consent']);
    assert.equal(callback.searchParams.get('iss'), server.issuer);
    const claims = tokens.claims();
    assert.equal(claims?.sub, 'alice');
    assert.deepEqual(claims?.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims?.acr, 'urn:palisade:acr:mfa');
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token, 'assistant may refresh');
    assert.equal(tokens.scope, 'openid profile email');
  });

  it('issues an RFC 9068 access token: typ at+jwt, iss, sub, aud, client_id, scope, jti, exp, iat, auth_time, acr, amr', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const { tokens } = await signIn(browser, 'bob');
    const [header, payload] = tokens.access_token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.equal(payload.iss, server.issuer);
    assert.equal(payload.sub, 'bob');
    assert.equal(payload.aud, server.issuer, 'no resource: the token is only good at userinfo');
    assert.equal(payload.client_id, 'assistant');
    assert.equal(payload.scope, 'openid profile email');
    assert.equal(payload.exp - payload.iat, 300, 'five minutes by default');
    assert.ok(payload.jti && payload.auth_time);
    assert.deepEqual(payload.amr, ['pwd']);
  });

  it('serves userinfo for the token, with profile and email claims', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const { tokens } = await signIn(browser, 'bob');
    const info = await client.fetchUserInfo(config, tokens.access_token, 'bob');
    assert.equal(info.name, 'Bob Chen');
    assert.equal(info.email, 'bob@example.com');
    assert.equal(info.preferred_username, 'bob');
  });

  it('remembers consent per client and signs in again by SSO without any page', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    await signIn(browser, 'bob');
    const seen: string[] = [];
    await signIn(browser, 'bob', {}, seen);
    assert.deepEqual(seen, [], 'second request: SSO session and stored consent');
  });

  it('SSO reaches a second client without a login prompt, but that client asks its own consent (SECURITY S3)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    await signIn(browser, 'bob');
    const cli = await discover(server.issuer, DEMO.cli.id, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(cli, {
      redirect_uri: 'http://127.0.0.1:53117/callback',
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const seen: string[] = [];
    const callback = await authorizeInBrowser(browser, url, { ...DEMO.bob }, seen);
    assert.deepEqual(seen, ['consent']);
    const tokens = await client.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: verifier, idTokenExpected: true });
    assert.equal(tokens.claims()?.sub, 'bob');
    assert.ok(tokens.refresh_token, 'public client with refresh_token grant');
  });

  it('prompt=login forces a fresh login; prompt=consent asks again; prompt=none answers silently', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    await signIn(browser, 'bob');
    const seenLogin: string[] = [];
    await signIn(browser, 'bob', { prompt: 'login' }, seenLogin);
    assert.deepEqual(seenLogin, ['login']);
    const seenConsent: string[] = [];
    await signIn(browser, 'bob', { prompt: 'consent' }, seenConsent);
    assert.deepEqual(seenConsent, ['consent']);
    const seenNone: string[] = [];
    await signIn(browser, 'bob', { prompt: 'none' }, seenNone);
    assert.deepEqual(seenNone, []);
  });

  it('prompt=none without a session returns login_required with state and iss', async () => {
    const request = await authorizationRequest(config, { prompt: 'none' });
    const browser = new ScriptedBrowser(server.issuer);
    const { url } = await browser.follow(request.url);
    assert.equal(url.searchParams.get('error'), 'login_required');
    assert.equal(url.searchParams.get('state'), request.state);
    assert.equal(url.searchParams.get('iss'), server.issuer);
  });

  it('max_age older than the session forces a login; auth_time is reported', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    await signIn(browser, 'bob');
    server.clock.advance(120);
    const seen: string[] = [];
    const { tokens } = await signIn(browser, 'bob', { max_age: '60' }, seen);
    assert.deepEqual(seen, ['login']);
    assert.equal(tokens.claims()?.auth_time, server.clock.now());
  });

  it('carries `resource` into the audience (RFC 8707) and the consent page names the resource server', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const { tokens } = await signIn(browser, 'bob', { scope: 'openid tools.access', resource: DEMO.gateway, prompt: 'consent' });
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1] as string, 'base64url').toString());
    assert.equal(payload.aud, DEMO.gateway);
    await assert.rejects(
      client.fetchUserInfo(config, tokens.access_token, 'bob'),
      (e: client.WWWAuthenticateChallengeError) => {
        assert.equal(e.status, 401);
        return true;
      },
      'a gateway token is no key to userinfo',
    );
  });
});
