import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, readForm, ScriptedBrowser, totpNow } from '../helpers/browser.js';
import { assistant, authorizationRequest, discover } from '../helpers/clients.js';
import { basic, expectError, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

// Defences beyond the catalogue, each from a finding of the security review of the IdP core.

const CHALLENGE = createHash('sha256').update('palisade-hardening-test-verifier-0123456789abcdef').digest('base64url');

function cliAuthorizeUrl(issuer: string, port: number, extra: Record<string, string> = {}): URL {
  const url = new URL('/authorize', issuer);
  const params = {
    response_type: 'code',
    client_id: DEMO.cli.id,
    redirect_uri: `http://127.0.0.1:${port}/callback`,
    scope: 'openid',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url;
}

/** Opens the login page of a fresh interaction and returns the browser, the form and its absolute action. */
async function loginForm(server: TestIdp) {
  const browser = new ScriptedBrowser(server.issuer);
  const { response, url } = await browser.follow(cliAuthorizeUrl(server.issuer, 50001));
  const form = readForm(await response.text());
  return { browser, form, action: new URL(form.action, url) };
}

describe('hardening from the security review', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp({
      mutate: (doc) => {
        const ops = doc.clients.find((c) => c.client_id === 'ops-bot');
        if (ops) ops.resources = [DEMO.gateway, 'http://127.0.0.1:9410'];
      },
    });
  });
  after(() => server.close());

  it('parallel password guesses cannot outrun the lockout: at most max_failures are verified (NIST 800-63B §5.2.2)', async () => {
    const { browser, form, action } = await loginForm(server);
    const attempts = await Promise.all(
      Array.from({ length: 20 }, () => browser.request(action, { form: { ...form.fields, username: 'bob', password: 'guess' } })),
    );
    const statuses = attempts.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 5, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 15);
    const locked = await browser.request(action, { form: { ...form.fields, username: 'bob', password: DEMO.bob.password } });
    assert.equal(locked.status, 429, 'even the right password waits out the lock');
    server.clock.advance(301);
  });

  it('parallel TOTP guesses after a correct password cannot outrun the lockout either', async () => {
    const { browser, form, action } = await loginForm(server);
    const afterPassword = await browser.follow(action, { form: { ...form.fields, username: 'alice', password: DEMO.alice.password } });
    const totp = readForm(await afterPassword.response.text());
    const totpAction = new URL(totp.action, afterPassword.url);
    const real = await totpNow(DEMO.alice.totpSecret, server.clock.now());
    const wrong = real === '000000' ? '111111' : '000000';
    const attempts = await Promise.all(
      Array.from({ length: 20 }, () => browser.request(totpAction, { form: { ...totp.fields, code: wrong } })),
    );
    assert.equal(attempts.filter((r) => r.status === 401).length, 5);
    assert.equal(attempts.filter((r) => r.status === 429).length, 15);
    server.clock.advance(301);
  });

  it('a public client never gets a code silently, even after consent, on another loopback port (RFC 8252 §8.6)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const seen: string[] = [];
    await authorizeInBrowser(browser, cliAuthorizeUrl(server.issuer, 50002), { ...DEMO.bob }, seen);
    assert.deepEqual(seen, ['login', 'consent']);
    const { url } = await browser.follow(cliAuthorizeUrl(server.issuer, 50003, { prompt: 'none' }));
    assert.equal(url.searchParams.get('error'), 'consent_required');
    assert.equal(url.searchParams.get('code'), null);
  });

  it('max_age=0 forces a fresh login (OIDC Core §3.1.2.1)', async () => {
    const config = await assistant(server.issuer);
    const browser = new ScriptedBrowser(server.issuer);
    const first = await authorizationRequest(config);
    await authorizeInBrowser(browser, first.url, { ...DEMO.bob });
    const seen: string[] = [];
    const again = await authorizationRequest(config, { max_age: '0' });
    await authorizeInBrowser(browser, again.url, { ...DEMO.bob }, seen);
    assert.deepEqual(seen, ['login']);
  });

  it("signing in over another session ends it: the previous user's session grants are revoked", async () => {
    const config = await assistant(server.issuer);
    const browser = new ScriptedBrowser(server.issuer);
    const bobRequest = await authorizationRequest(config);
    const bobCallback = await authorizeInBrowser(browser, bobRequest.url, { ...DEMO.bob });
    const bob = await client.authorizationCodeGrant(config, bobCallback, {
      pkceCodeVerifier: bobRequest.verifier,
      expectedState: bobRequest.state,
      expectedNonce: bobRequest.nonce,
    });
    const aliceRequest = await authorizationRequest(config, { prompt: 'login' });
    await authorizeInBrowser(browser, aliceRequest.url, { ...DEMO.alice, now: server.clock.now() });
    await assert.rejects(
      client.refreshTokenGrant(config, bob.refresh_token ?? ''),
      (e: client.ResponseBodyError) => e.error === 'invalid_grant',
    );
  });

  it('a client reaches only its own resources, and a scope only its own resource server (RFC 8707)', async () => {
    const opsBot = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
    const token = `${server.issuer}/token`;
    expectError(await post(token, { grant_type: 'client_credentials', resource: 'http://127.0.0.1:9413' }, opsBot), 400, 'invalid_target');
    expectError(
      await post(token, { grant_type: 'client_credentials', resource: 'http://127.0.0.1:9410', scope: 'tools.access' }, opsBot),
      400,
      'invalid_scope',
    );
    const files = await post(token, { grant_type: 'client_credentials', resource: 'http://127.0.0.1:9410', scope: '' }, opsBot);
    assert.equal(files.status, 200, JSON.stringify(files.body));
  });

  it('introspection by a public client is 401 invalid_client (RFC 7662 §2.1)', async () => {
    const reply = await post(`${server.issuer}/introspect`, { client_id: DEMO.cli.id, token: 'anything' });
    expectError(reply, 401, 'invalid_client');
    assert.ok(reply.headers.get('www-authenticate'));
  });

  it('a request object is request_not_supported (OIDC Core §3.1.2.6)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const { url } = await browser.follow(cliAuthorizeUrl(server.issuer, 50004, { request: 'eyJhbGciOiJub25lIn0.e30.' }));
    assert.equal(url.searchParams.get('error'), 'request_not_supported');
  });

  it('userinfo accepts the Bearer scheme in any case (RFC 9110 §11.1)', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config);
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.bob });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const response = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `bearer ${tokens.access_token}` } });
    assert.equal(response.status, 200);
  });

  it('discovery lists the assertion algorithms for every endpoint that takes private_key_jwt (RFC 8414 §2)', async () => {
    const config = await discover(server.issuer, DEMO.opsBot.id, client.ClientSecretBasic(DEMO.opsBot.secret));
    const metadata = config.serverMetadata();
    for (const name of ['token', 'introspection', 'revocation'] as const) {
      assert.ok((metadata[`${name}_endpoint_auth_signing_alg_values_supported`] as string[] | undefined)?.includes('ES256'), name);
    }
    assert.equal(metadata.userinfo_signing_alg_values_supported, undefined);
  });

  it('"Stay signed in" at logout says so and keeps the session', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config);
    await authorizeInBrowser(browser, request.url, { ...DEMO.bob });
    const page = await browser.request(`${server.issuer}/logout`);
    const stay = await browser.request(`${server.issuer}/logout`, { form: { ...readForm(await page.text()).fields, decision: 'stay' } });
    assert.match(await stay.text(), /You are still signed in/);
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const { url } = await browser.follow(silent.url);
    assert.ok(url.searchParams.get('code'), 'SSO still works');
  });
});
