import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest, opsBot } from '../helpers/clients.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('client credentials, introspection and revocation with openid-client 6', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());

  for (const method of ['basic', 'post'] as const) {
    it(`ops-bot gets a gateway token with client_secret_${method} (OAuth 2.1 §4.2)`, async () => {
      const config = await opsBot(server.issuer, method);
      const tokens = await client.clientCredentialsGrant(config);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.expires_in, 300);
      assert.equal(tokens.refresh_token, undefined, 'no refresh token for client credentials (§4.2.3)');
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const claims = decodeJwt(tokens.access_token);
      assert.equal(claims.sub, 'ops-bot');
      assert.equal(claims.client_id, 'ops-bot');
      assert.equal(claims.aud, DEMO.gateway, 'default resource of ops-bot');
      assert.equal(claims.scope, 'tools.access', 'default scopes when none requested');
      assert.equal(claims.auth_time, undefined, 'no person authenticated');
    });
  }

  it('honours an explicit resource and scope', async () => {
    const config = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'tools.access', resource: DEMO.gateway });
    assert.equal(tokens.scope, 'tools.access');
    assert.equal(decodeJwt(tokens.access_token).aud, DEMO.gateway);
  });

  it('introspects its own token as active with RFC 7662 fields, and as inactive once revoked (RFC 7009)', async () => {
    const config = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(config);
    const active = await client.tokenIntrospection(config, tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.client_id, 'ops-bot');
    assert.equal(active.sub, 'ops-bot');
    assert.equal(active.scope, 'tools.access');
    assert.equal(active.iss, server.issuer);
    await client.tokenRevocation(config, tokens.access_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  });

  it('does not reveal a token to a client that neither owns it nor is its audience', async () => {
    const bot = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(bot);
    const other = await assistant(server.issuer);
    assert.deepEqual(await client.tokenIntrospection(other, tokens.access_token), { active: false });
  });

  it('does not let another client revoke a token (RFC 7009 §2.1): 200, token still active', async () => {
    const bot = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(bot);
    await client.tokenRevocation(await assistant(server.issuer), tokens.access_token);
    assert.equal((await client.tokenIntrospection(bot, tokens.access_token)).active, true);
  });

  it('introspects garbage and expired tokens as inactive', async () => {
    const config = await opsBot(server.issuer);
    assert.deepEqual(await client.tokenIntrospection(config, 'not-a-token'), { active: false });
    const tokens = await client.clientCredentialsGrant(config);
    server.clock.advance(301);
    assert.deepEqual(await client.tokenIntrospection(config, tokens.access_token), { active: false });
  });

  it('refresh: rotation on every use, and the old token is then refused (OAuth 2.1 §4.3.1)', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, { scope: 'openid offline_access' });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.bob });
    const first = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const refreshToken = first.refresh_token ?? assert.fail('refresh token expected');
    const second = await client.refreshTokenGrant(config, refreshToken);
    assert.ok(second.refresh_token && second.refresh_token !== refreshToken, 'a new refresh token');
    assert.equal(second.claims()?.sub, 'bob', 'a fresh ID token on refresh');
    const introspected = await client.tokenIntrospection(config, second.refresh_token);
    assert.equal(introspected.active, true);
    assert.equal(introspected.token_type, 'refresh_token');
    await assert.rejects(client.refreshTokenGrant(config, refreshToken), (e: client.ResponseBodyError) => e.error === 'invalid_grant');
    await assert.rejects(
      client.refreshTokenGrant(config, second.refresh_token),
      (e: client.ResponseBodyError) => e.error === 'invalid_grant',
      'family revoked',
    );
  });
});
