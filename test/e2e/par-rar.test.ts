import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, readForm, ScriptedBrowser, totpNow } from '../helpers/browser.js';
import { assistant, authorizationRequest, discover, opsBot } from '../helpers/clients.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const FIN = 'http://127.0.0.1:9410/finance';
const Q4 = { type: 'file_access', locations: [FIN], actions: ['read'], identifier: 'Q4-report.pdf' };
const GATEWAY_TOOLS = { type: 'tool_access', locations: [DEMO.gateway], actions: ['files.read', 'reports.quarterly'] };

describe('PAR + RAR end to end with openid-client 6 (RFC 9126, RFC 9396)', () => {
  let server: TestIdp;
  let config: client.Configuration;
  before(async () => {
    server = await startTestIdp();
    config = await assistant(server.issuer);
  });
  after(() => server.close());

  /** TOTP codes are single-use (RFC 6238 §5.2): each of alice's logins needs the next time step. */
  function nextTotpStep(): void {
    server.clock.advance(30);
  }

  async function aliceApproves(
    details: object[],
    seen: string[] = [],
    browser = new ScriptedBrowser(server.issuer),
    extra: Record<string, string> = {},
  ) {
    const request = await authorizationRequest(config, {
      scope: 'openid tools.access',
      resource: DEMO.gateway,
      authorization_details: JSON.stringify(details),
      ...extra,
    });
    assert.deepEqual(
      [...request.url.searchParams.keys()].sort(),
      ['client_id', 'request_uri'],
      'the front channel carries only the handle',
    );
    nextTotpStep();
    const callback = await authorizeInBrowser(browser, request.url, { ...DEMO.alice, now: server.clock.now() }, seen);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    return { tokens, browser };
  }

  it('discovery advertises PAR and the detail types', () => {
    const metadata = config.serverMetadata();
    assert.equal(metadata.pushed_authorization_request_endpoint, `${server.issuer}/par`);
    assert.equal(metadata.require_pushed_authorization_requests, false, 'required per client (assistant), not globally');
    assert.deepEqual(metadata.authorization_details_types_supported, ['file_access', 'payment_initiation', 'tool_call', 'tool_access']);
    // Client ID Metadata Documents are off unless configured (client-metadata-document.test.ts).
    assert.equal(metadata.client_id_metadata_document_supported, undefined);
  });

  it('alice approves exactly "read Q4-report.pdf": the token, the token response and introspection carry exactly that', async () => {
    const seen: string[] = [];
    const { tokens } = await aliceApproves([Q4], seen);
    assert.deepEqual(seen, ['login', 'totp', 'consent']);
    assert.deepEqual(tokens.authorization_details, [Q4], 'RFC 9396 §7: in the token response');
    const claims = decodeJwt(tokens.access_token);
    assert.deepEqual(claims.authorization_details, [Q4], 'RFC 9396 §9.1: in the JWT');
    assert.equal(claims.aud, DEMO.gateway);
    const introspected = await client.tokenIntrospection(config, tokens.access_token);
    assert.deepEqual(introspected.authorization_details, [Q4], 'RFC 9396 §9.2: in introspection');
    const refreshInfo = await client.tokenIntrospection(config, tokens.refresh_token ?? assert.fail('no refresh token'));
    assert.deepEqual(refreshInfo.authorization_details, [Q4]);
  });

  it('the consent page words the detail and lists its fields', async () => {
    const request = await authorizationRequest(config, { scope: 'openid', authorization_details: JSON.stringify([Q4]), prompt: 'consent' });
    const browser = new ScriptedBrowser(server.issuer);
    nextTotpStep();
    let { response, url } = await browser.follow(request.url);
    for (const step of [
      { username: DEMO.alice.username, password: DEMO.alice.password },
      { code: await totpNow(DEMO.alice.totpSecret, server.clock.now()) },
    ]) {
      const form = readForm(await response.text());
      ({ response, url } = await browser.follow(new URL(form.action, url), { form: { ...form.fields, ...step } }));
    }
    const html = await response.text();
    assert.match(html, /Read Q4-report\.pdf in the Finance share of the File Server/);
    assert.match(html, /<dt>identifier<\/dt><dd>Q4-report\.pdf<\/dd>/);
    assert.match(html, /<dt>locations<\/dt><dd>http:\/\/127\.0\.0\.1:9410\/finance<\/dd>/);
  });

  it('remembers approved details: the same request is answered by SSO; a wider one asks again', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    await aliceApproves([Q4], [], browser);
    const same: string[] = [];
    await aliceApproves([Q4], same, browser);
    assert.deepEqual(same, []);
    const wider: string[] = [];
    await aliceApproves([{ ...Q4, actions: ['read', 'write'] }], wider, browser);
    assert.deepEqual(wider, ['consent'], 'write was never approved');
  });

  it('refresh may narrow the details to a subset; the grant keeps them all (RFC 9396 §6.2)', async () => {
    const both = [Q4, GATEWAY_TOOLS];
    const { tokens } = await aliceApproves(both);
    const narrowed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '', {
      authorization_details: JSON.stringify([GATEWAY_TOOLS]),
    });
    assert.deepEqual(narrowed.authorization_details, [GATEWAY_TOOLS]);
    assert.deepEqual(decodeJwt(narrowed.access_token).authorization_details, [GATEWAY_TOOLS]);
    const full = await client.refreshTokenGrant(config, narrowed.refresh_token ?? '');
    assert.deepEqual(full.authorization_details, both);
    await assert.rejects(
      client.refreshTokenGrant(config, full.refresh_token ?? '', {
        authorization_details: JSON.stringify([{ ...Q4, actions: ['delete'] }]),
      }),
      (e: client.ResponseBodyError) => e.error === 'invalid_authorization_details',
    );
  });

  it('the code exchange may narrow too, never widen', async () => {
    const request = await authorizationRequest(config, { scope: 'openid', authorization_details: JSON.stringify([Q4, GATEWAY_TOOLS]) });
    nextTotpStep();
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
    const tokens = await client.authorizationCodeGrant(
      config,
      callback,
      { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce },
      { authorization_details: JSON.stringify([Q4]) },
    );
    assert.deepEqual(tokens.authorization_details, [Q4]);
  });

  it('PAR lifetime is no limit on the login: a request_uri redeemed in time may be signed in 5 minutes later', async () => {
    const request = await authorizationRequest(config, { scope: 'openid', authorization_details: JSON.stringify([Q4]) });
    const browser = new ScriptedBrowser(server.issuer);
    const { url } = await browser.follow(request.url);
    server.clock.advance(300);
    const callback = await authorizeInBrowser(browser, url, { ...DEMO.alice, now: server.clock.now() });
    assert.ok(callback.searchParams.get('code'));
  });

  it('bob (engineering) is refused file_access by policy after he signs in, before any consent (D4)', async () => {
    const request = await authorizationRequest(config, { scope: 'openid', authorization_details: JSON.stringify([Q4]) });
    const seen: string[] = [];
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.bob }, seen);
    assert.deepEqual(seen, ['login']);
    assert.equal(callback.searchParams.get('error'), 'invalid_authorization_details');
    assert.equal(callback.searchParams.get('state'), request.state);
    assert.equal(callback.searchParams.get('iss'), server.issuer);
  });

  it('alice declining the detail gets access_denied (D4)', async () => {
    const request = await authorizationRequest(config, {
      scope: 'openid',
      authorization_details: JSON.stringify([{ ...Q4, identifier: 'salaries.xlsx' }]),
    });
    nextTotpStep();
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, {
      ...DEMO.alice,
      now: server.clock.now(),
      consent: 'deny',
    });
    assert.equal(callback.searchParams.get('error'), 'access_denied');
  });

  it('an autonomous agent asks for exactly the tools it needs with client_credentials', async () => {
    const bot = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(bot, { authorization_details: JSON.stringify([GATEWAY_TOOLS]) });
    assert.deepEqual(tokens.authorization_details, [GATEWAY_TOOLS]);
    assert.deepEqual(decodeJwt(tokens.access_token).authorization_details, [GATEWAY_TOOLS]);
    await assert.rejects(
      client.clientCredentialsGrant(bot, { authorization_details: JSON.stringify([Q4]) }),
      (e: client.ResponseBodyError) => e.error === 'invalid_authorization_details',
      'ops-bot may request tool_access only',
    );
  });

  it('a tools.access token without details carries no tool action (what the gateway will refuse)', async () => {
    const bot = await opsBot(server.issuer);
    const tokens = await client.clientCredentialsGrant(bot);
    assert.equal(tokens.scope, 'tools.access');
    assert.equal(decodeJwt(tokens.access_token).authorization_details, undefined);
  });

  it('palisade-cli (public) may push too: PAR authenticates it by client_id (RFC 9126 §2)', async () => {
    const cli = await discover(server.issuer, DEMO.cli.id, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithPAR(cli, {
      redirect_uri: 'http://127.0.0.1:53999/callback',
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), url, { ...DEMO.bob });
    const tokens = await client.authorizationCodeGrant(cli, callback, { pkceCodeVerifier: verifier, idTokenExpected: true });
    assert.equal(tokens.claims()?.sub, 'bob');
  });
});
