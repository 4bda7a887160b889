import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { CIBA, CIBA_GRANT, Device, NotificationReceiver, startCibaIdp } from '../helpers/ciba.js';
import { assistant, authorizationRequest, discover, opsBot } from '../helpers/clients.js';
import { makeProof, type ProofKey, proofKey } from '../helpers/dpop.js';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE } from '../helpers/exchange.js';
import { basic, call, expectError, type Form, field, type Reply } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp, WallClock } from '../helpers/idp.js';

const insecure = { [oauth.allowInsecureRequests]: true };
const BOUND_BOT = { id: 'bound-bot', secret: 'bound-bot-secret' };

/** A form POST with a DPoP header (or several, or none). */
function postWithProof(url: string, form: Form, authorization: string, dpop: string | string[] | undefined): Promise<Reply> {
  const headers = new Headers(authorization ? { authorization } : {});
  for (const proof of [dpop ?? []].flat()) headers.append('dpop', proof);
  return call(url, { method: 'POST', headers, body: new URLSearchParams(form) });
}

describe('DPoP at the IdP (RFC 9449): openid-client, oauth4webapi and hand-made proofs', () => {
  let server: TestIdp;
  let token: string;
  const opsForm = { grant_type: 'client_credentials' };
  const ops = basic(DEMO.opsBot.id, DEMO.opsBot.secret);

  before(async () => {
    server = await startTestIdp({
      // Proofs carry the real time; so must the IdP.
      clock: new WallClock(),
      mutate: (doc) => {
        doc.clients.push({
          client_id: BOUND_BOT.id,
          client_secret: BOUND_BOT.secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          scopes: ['tools.access'],
          default_resource: DEMO.gateway,
          dpop_bound_access_tokens: true,
        });
      },
    });
    token = `${server.issuer}/token`;
  });
  after(() => server.close());

  it('discovery advertises the proof algorithms (RFC 9449 §5.1)', async () => {
    const metadata = (await call(`${server.issuer}/.well-known/openid-configuration`, {})).body;
    assert.deepEqual(metadata.dpop_signing_alg_values_supported, ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256']);
  });

  it('openid-client client_credentials with DPoP: token_type DPoP, cnf.jkt of its key, and introspection says so', async () => {
    const config = await opsBot(server.issuer);
    const keyPair = await client.randomDPoPKeyPair('ES256');
    const DPoP = client.getDPoPHandle(config, keyPair);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'tools.access' }, { DPoP });
    assert.equal(tokens.token_type, 'dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
    const gateway = await discover(server.issuer, DEMO.mcpGateway.id, client.ClientSecretBasic(DEMO.mcpGateway.secret));
    const own = await client.tokenIntrospection(gateway, tokens.access_token);
    assert.equal(own.active, true);
    assert.equal(own.token_type, 'DPoP');
    assert.deepEqual(own.cnf, { jkt });
  });

  it('a client registered with dpop_bound_access_tokens gets no token without a proof (400 invalid_dpop_proof), and a bound one with it', async () => {
    const auth = basic(BOUND_BOT.id, BOUND_BOT.secret);
    expectError(await postWithProof(token, opsForm, auth, undefined), 400, 'invalid_dpop_proof');
    const key = await proofKey();
    const reply = await postWithProof(token, opsForm, auth, await makeProof(key, { htu: token }));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(field(reply, 'access_token')).cnf, { jkt: key.jkt });
  });

  describe('SECURITY P-2 and P-3 at the token endpoint: every broken proof is 400 invalid_dpop_proof and issues nothing', () => {
    let key: ProofKey;
    before(async () => {
      key = await proofKey();
    });
    const cases: [string, () => Promise<string | string[]>][] = [
      ['P-2 two DPoP headers', async () => [await makeProof(key, { htu: token }), await makeProof(key, { htu: token })]],
      ['P-2 not a JWT', async () => 'not-a-jwt'],
      ['P-2 typ JWT', async () => makeProof(key, { htu: token, header: { typ: 'JWT' } })],
      [
        'P-2 alg none',
        async () => unsigned({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk }, { jti: 'j-none-1234', htm: 'POST', htu: token, iat: now() }),
      ],
      ['P-2 alg HS256', async () => hmacProof(key)],
      ['P-2 bad signature', async () => tamper(await makeProof(key, { htu: token }))],
      ['P-2 private key in jwk', async () => makeProof(key, { htu: token, header: { jwk: await privateJwk() } })],
      ['P-2 no jwk', async () => makeProof(key, { htu: token, header: { jwk: undefined } })],
      ['P-2 missing jti', async () => makeProof(key, { htu: token, omit: ['jti'] })],
      ['P-2 missing htm', async () => makeProof(key, { htu: token, omit: ['htm'] })],
      ['P-2 missing htu', async () => makeProof(key, { htu: token, omit: ['htu'] })],
      ['P-2 missing iat', async () => makeProof(key, { htu: token, omit: ['iat'] })],
      ['P-3 wrong htm', async () => makeProof(key, { htu: token, htm: 'GET' })],
      ['P-3 wrong htu (another endpoint)', async () => makeProof(key, { htu: `${server.issuer}/par` })],
      ['P-3 wrong htu (another host)', async () => makeProof(key, { htu: token.replace('127.0.0.1', 'localhost') })],
      ['P-3 iat ten minutes old', async () => makeProof(key, { htu: token, iat: now() - 600 })],
      ['P-3 iat ten minutes ahead', async () => makeProof(key, { htu: token, iat: now() + 600 })],
    ];
    for (const [name, build] of cases) {
      it(name, async () => {
        const reply = await postWithProof(token, opsForm, ops, await build());
        expectError(reply, 400, 'invalid_dpop_proof');
        assert.equal(reply.body.access_token, undefined);
      });
    }

    it('P-3 a replayed jti: the first use works, the second is refused', async () => {
      const proof = await makeProof(key, { htu: token });
      assert.equal((await postWithProof(token, opsForm, ops, proof)).status, 200);
      expectError(await postWithProof(token, opsForm, ops, proof), 400, 'invalid_dpop_proof');
    });

    it('htu ignores the query and fragment and is compared normalized (RFC 9449 §4.3)', async () => {
      const reply = await postWithProof(token, opsForm, ops, await makeProof(key, { htu: `${token.replace('http:', 'HTTP:')}?x=1#y` }));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
    });
  });

  it('PAR with a proof binds the code to its key: another key is invalid_grant (SECURITY P-6) and burns nothing; the right key gets DPoP tokens', async () => {
    const config = await assistant(server.issuer);
    const right = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const wrong = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(
      config,
      {
        redirect_uri: DEMO.assistant.redirectUri,
        scope: 'openid profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      },
      { DPoP: right },
    );
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), url, { ...DEMO.alice, now: server.clock.now() });
    const checks = { pkceCodeVerifier: verifier, expectedState: state };
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: wrong }),
      (e: client.ResponseBodyError) => {
        assert.equal(e.error, 'invalid_grant');
        return true;
      },
    );
    await assert.rejects(client.authorizationCodeGrant(config, callback, checks), (e: client.ResponseBodyError) => {
      assert.equal(e.error, 'invalid_dpop_proof');
      return true;
    });
    const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP: right });
    assert.equal(tokens.token_type, 'dpop');

    // Userinfo: with the proof it answers; the same token as Bearer is refused with a DPoP challenge (SECURITY P-1).
    const info = await client.fetchUserInfo(config, tokens.access_token, 'alice', { DPoP: right });
    assert.equal(info.name, 'Alice Martin');
    const asBearer = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(asBearer.status, 401);
    assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token".*algs="ES256/);
    await assert.rejects(client.fetchUserInfo(config, tokens.access_token, 'alice', { DPoP: wrong }));

    // A confidential client's refresh token is bound by its authentication; the new access token by the proof.
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string, undefined, { DPoP: right });
    assert.equal(refreshed.token_type, 'dpop');
  });

  it("a public client's refresh token is bound to its key (dpop_jkt at /authorize): no proof, another key, then the right key", async () => {
    server.clock.advance(30); // a TOTP step of its own: codes are single-use
    const config = await discover(server.issuer, DEMO.cli.id, client.None());
    const key = await proofKey();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:8123/callback',
      scope: 'openid offline_access',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      dpop_jkt: key.jkt,
    });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), url, { ...DEMO.alice, now: server.clock.now() });
    const code = callback.searchParams.get('code') as string;
    const form = {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      client_id: DEMO.cli.id,
      redirect_uri: 'http://127.0.0.1:8123/callback',
    };
    expectError(await postWithProof(token, form, '', await makeProof(await proofKey(), { htu: token })), 400, 'invalid_grant');
    const issued = await postWithProof(token, form, '', await makeProof(key, { htu: token }));
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const refresh = { grant_type: 'refresh_token', refresh_token: field(issued, 'refresh_token'), client_id: DEMO.cli.id };
    expectError(await postWithProof(token, refresh, '', undefined), 400, 'invalid_dpop_proof');
    expectError(await postWithProof(token, refresh, '', await makeProof(await proofKey(), { htu: token })), 400, 'invalid_grant');
    const rotated = await postWithProof(token, refresh, '', await makeProof(key, { htu: token }));
    assert.equal(rotated.status, 200, 'a refused refresh must not rotate the token away');
    assert.deepEqual(decodeJwt(field(rotated, 'access_token')).cnf, { jkt: key.jkt });
  });

  it('oauth4webapi validateJwtAccessToken(requireDPoP) accepts our bound token with its proof, and refuses it without', async () => {
    const issuer = new URL(server.issuer);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    const key = await proofKey();
    const issued = await postWithProof(token, opsForm, ops, await makeProof(key, { htu: token }));
    const accessToken = field(issued, 'access_token');
    const resource = `${DEMO.gateway}/tools`;
    const proof = await makeProof(key, { htm: 'GET', htu: resource, accessToken });
    const request = new Request(resource, { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
    const claims = await oauth.validateJwtAccessToken(as, request, DEMO.gateway, { ...insecure, requireDPoP: true });
    assert.deepEqual(claims.cnf, { jkt: key.jkt });
    const bare = new Request(resource, { headers: { authorization: `Bearer ${accessToken}` } });
    await assert.rejects(oauth.validateJwtAccessToken(as, bare, DEMO.gateway, { ...insecure, requireDPoP: true }));
  });

  it('token exchange: the new token is bound to the exchanging service’s key; its bound actor token needs that key’s proof', async () => {
    server.clock.advance(30);
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, { scope: 'openid tools.access', resource: DEMO.gateway });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
    const user = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const gatewayKey = await proofKey();
    const auth = basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    const own = await postWithProof(token, opsForm, auth, await makeProof(gatewayKey, { htu: token }));
    const form = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: user.access_token,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: field(own, 'access_token'),
      actor_token_type: ACCESS_TOKEN_TYPE,
      audience: DEMO.tools.reports,
    };
    expectError(await postWithProof(token, form, auth, undefined), 400, 'invalid_request');
    expectError(await postWithProof(token, form, auth, await makeProof(await proofKey(), { htu: token })), 400, 'invalid_request');
    const exchanged = await postWithProof(token, form, auth, await makeProof(gatewayKey, { htu: token }));
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    assert.equal(exchanged.body.token_type, 'DPoP');
    const claims = decodeJwt(field(exchanged, 'access_token'));
    assert.deepEqual(claims.cnf, { jkt: gatewayKey.jkt });
    assert.deepEqual(claims.act, { sub: 'mcp-gateway', act: { sub: 'assistant' } });
  });
});

describe('DPoP nonces (the strict profile, RFC 9449 §8): SECURITY P-5', () => {
  let server: TestIdp;
  let token: string;
  const ops = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
  before(async () => {
    server = await startTestIdp({
      clock: new WallClock(),
      mutate: (doc) => {
        doc.dpop = { require_nonce: true, nonce_lifetime: 60 };
      },
    });
    token = `${server.issuer}/token`;
  });
  after(() => server.close());

  it('a proof without a nonce, or with a made-up or stale one, is 400 use_dpop_nonce with a DPoP-Nonce to retry with', async () => {
    const key = await proofKey();
    const first = await postWithProof(token, { grant_type: 'client_credentials' }, ops, await makeProof(key, { htu: token }));
    expectError(first, 400, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    assert.ok(nonce && nonce.length >= 16);
    const madeUp = await postWithProof(
      token,
      { grant_type: 'client_credentials' },
      ops,
      await makeProof(key, { htu: token, nonce: 'made-up-nonce' }),
    );
    expectError(madeUp, 400, 'use_dpop_nonce');
    const retried = await postWithProof(token, { grant_type: 'client_credentials' }, ops, await makeProof(key, { htu: token, nonce }));
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.ok(retried.headers.get('dpop-nonce'), 'every answer carries the nonce to use next');
    server.clock.advance(61);
    const stale = await postWithProof(
      token,
      { grant_type: 'client_credentials' },
      ops,
      await makeProof(key, { htu: token, nonce, iat: server.clock.now() }),
    );
    expectError(stale, 400, 'use_dpop_nonce');
    server.clock.advance(-61);
  });

  it('openid-client retries once by itself with the nonce it was given', async () => {
    const config = await opsBot(server.issuer);
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const tokens = await client.clientCredentialsGrant(config, { scope: 'tools.access' }, { DPoP });
    assert.equal(tokens.token_type, 'dpop');
  });
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function unsigned(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part(header)}.${part(payload)}.`;
}

/** A proof MAC'd with a shared secret: DPoP is asymmetric only (RFC 9449 §4.2). */
async function hmacProof(key: ProofKey): Promise<string> {
  const { SignJWT } = await import('jose');
  return new SignJWT({ jti: crypto.randomUUID(), htm: 'POST', htu: 'x', iat: now() })
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk } as never)
    .sign(new TextEncoder().encode('a-shared-secret-of-32-bytes-long!!'));
}

async function privateJwk() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportJWK(privateKey);
}

/** Flips a byte of the signature. */
function tamper(jwt: string): string {
  const [h, p, s] = jwt.split('.') as [string, string, string];
  const bytes = Buffer.from(s, 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 0xff;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}

describe('DPoP with CIBA (ADR 0010): a proof at the backchannel request binds the tokens, however they are delivered', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let device: Device;
  let bcAuthorize: string;
  let token: string;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver, { clock: new WallClock() });
    device = new Device(server);
    await device.signIn('alice');
    bcAuthorize = `${server.issuer}/bc-authorize`;
    token = `${server.issuer}/token`;
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('poll: redeemed only with the same key (no proof → invalid_dpop_proof, another key → invalid_grant); the tokens are bound to it', async () => {
    const key = await proofKey();
    const auth = basic(CIBA.poll.id, CIBA.poll.secret);
    const started = await postWithProof(
      bcAuthorize,
      { scope: 'openid', login_hint: 'alice' },
      auth,
      await makeProof(key, { htu: bcAuthorize }),
    );
    const authReqId = field(started, 'auth_req_id');
    const [shown] = await device.pending();
    assert.equal(await device.approve(shown?.id ?? ''), 'approved');
    const form = { grant_type: CIBA_GRANT, auth_req_id: authReqId };
    expectError(await postWithProof(token, form, auth, undefined), 400, 'invalid_dpop_proof');
    expectError(await postWithProof(token, form, auth, await makeProof(await proofKey(), { htu: token })), 400, 'invalid_grant');
    const issued = await postWithProof(token, form, auth, await makeProof(key, { htu: token }));
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(issued.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(field(issued, 'access_token')).cnf, { jkt: key.jkt });
  });

  it('push: the tokens delivered to the client are bound to the key of the request’s proof', async () => {
    receiver.reset();
    const key = await proofKey();
    const form = { scope: 'openid', login_hint: 'alice', client_notification_token: 'push-token-0123456789abcdef' };
    const started = await postWithProof(
      bcAuthorize,
      form,
      basic(CIBA.push.id, CIBA.push.secret),
      await makeProof(key, { htu: bcAuthorize }),
    );
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const [shown] = await device.pending();
    assert.equal(await device.approve(shown?.id ?? ''), 'approved');
    const push = await receiver.next();
    assert.equal(push.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(push.body.access_token as string).cnf, { jkt: key.jkt });
  });
});
