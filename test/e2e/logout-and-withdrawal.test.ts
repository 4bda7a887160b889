import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import { authorizeInBrowser, readForm, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { DEMO, DEMO_CONFIG, startTestIdp, type TestIdp } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));
const SIGNED_OUT = 'http://127.0.0.1:8765/signed-out';

describe('logout (OIDC RP-Initiated Logout) and consent withdrawal end grants (SECURITY R6)', () => {
  let server: TestIdp;
  let config: client.Configuration;
  before(async () => {
    server = await startTestIdp();
    config = await assistant(server.issuer);
  });
  after(() => server.close());

  async function signIn(browser: ScriptedBrowser, scope: string) {
    const request = await authorizationRequest(config, { scope });
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    return client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
  }

  async function logoutPage(browser: ScriptedBrowser, query: Record<string, string>) {
    const response = await browser.request(`${server.issuer}/logout?${new URLSearchParams(query)}`);
    return { response, html: await response.text() };
  }

  const refreshFails = (token: string | undefined) =>
    assert.rejects(
      client.refreshTokenGrant(config, token ?? assert.fail('no refresh token')),
      (e: client.ResponseBodyError) => e.error === 'invalid_grant',
    );

  it('discovery advertises end_session_endpoint', () => {
    assert.equal(config.serverMetadata().end_session_endpoint, `${server.issuer}/logout`);
  });

  it('R6: after logout, refresh tokens of the session fail with invalid_grant and SSO is gone', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const tokens = await signIn(browser, 'openid profile');
    const { response, html } = await logoutPage(browser, { client_id: 'assistant', post_logout_redirect_uri: SIGNED_OUT, state: 'bye' });
    assert.equal(response.status, 200, 'a GET alone only asks for confirmation');
    assert.match(html, /Sign out\?/);
    const form = readForm(html);
    const done = await browser.request(`${server.issuer}/logout`, { form: { ...form.fields, decision: 'logout' } });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), `${SIGNED_OUT}?state=bye`);
    await refreshFails(tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const { url } = await browser.follow(silent.url);
    assert.equal(url.searchParams.get('error'), 'login_required');
  });

  it('grants that asked for offline_access survive logout (OIDC Core §11)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const tokens = await signIn(browser, 'openid offline_access');
    const { html } = await logoutPage(browser, { id_token_hint: tokens.id_token ?? assert.fail('no ID token') });
    const done = await browser.request(`${server.issuer}/logout`, { form: { ...readForm(html).fields, decision: 'logout' } });
    assert.equal(done.status, 200, 'no post_logout_redirect_uri: the signed-out page');
    assert.ok(await client.refreshTokenGrant(config, tokens.refresh_token ?? assert.fail('no refresh token')));
  });

  it('a logout POST without the CSRF token is refused with 403 and the session stays', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const tokens = await signIn(browser, 'openid');
    const refused = await browser.request(`${server.issuer}/logout`, { form: { decision: 'logout' } });
    assert.equal(refused.status, 403);
    assert.ok(await client.refreshTokenGrant(config, tokens.refresh_token ?? assert.fail('no refresh token')));
  });

  it('an unregistered post_logout_redirect_uri gets an error page, never a redirect', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const { response } = await logoutPage(browser, { client_id: 'assistant', post_logout_redirect_uri: 'https://evil.example/' });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    const forged = await logoutPage(browser, {
      id_token_hint: 'eyJhbGciOiJub25lIn0.eyJhdWQiOiJhc3Npc3RhbnQifQ.',
      post_logout_redirect_uri: SIGNED_OUT,
    });
    assert.equal(forged.response.status, 400, 'an unsigned id_token_hint names no client');
  });

  it('R6: `palisade consent revoke` withdraws consent; the grant and its tokens die, and the next login asks again', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const tokens = await signIn(browser, 'openid offline_access');
    const port = new URL(server.issuer).port;
    const output = execFileSync(
      process.execPath,
      [CLI, 'consent', 'revoke', '--config', DEMO_CONFIG, '--user', 'bob', '--client', 'assistant'],
      {
        encoding: 'utf8',
        env: { ...process.env, PALISADE_DATA: server.dataDir, PALISADE_IDP_PORT: port },
      },
    );
    assert.match(output, /withdrew consent of bob for assistant/);
    await refreshFails(tokens.refresh_token);
    assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
    const seen: string[] = [];
    const request = await authorizationRequest(config, { scope: 'openid' });
    await authorizeInBrowser(browser, request.url, { ...DEMO.bob }, seen);
    assert.deepEqual(seen, ['consent'], 'still signed in, but consent is asked again');
  });
});
