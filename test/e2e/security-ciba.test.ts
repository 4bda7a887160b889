import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import argon2 from 'argon2';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser, totpNow } from '../helpers/browser.js';
import { backchannelRequest, CIBA, CIBA_GRANT, Device, NotificationReceiver, PAYMENT, redeem, startCibaIdp } from '../helpers/ciba.js';
import { discover } from '../helpers/clients.js';
import { basic, call, expectError, field, post, type Reply } from '../helpers/http.js';
import { DEMO, type TestIdp } from '../helpers/idp.js';

/** A CIBA agent that signs login_hint_tokens (and authenticates) with its own key. */
const AGENT = { id: 'ciba-agent', secret: '' };
const USER_CODE = 'blue-harbour-42';

describe('SECURITY C1–C8: CIBA requests, polling and notifications (OpenID Connect CIBA Core 1.0)', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let device: Device;
  let agentKey: CryptoKey;
  let otherKey: CryptoKey;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    const agent = await generateKeyPair('ES256');
    agentKey = agent.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(agent.publicKey)), alg: 'ES256' };
    const userCodeHash = await argon2.hash(USER_CODE, { type: argon2.argon2id });
    server = await startCibaIdp(receiver, {
      mutate: (document) => {
        document.clients.push({
          client_id: AGENT.id,
          client_secret: 'ciba-agent-secret',
          token_endpoint_auth_method: 'client_secret_basic',
          jwks: { keys: [jwk] },
          grant_types: ['urn:openid:params:grant-type:ciba'],
          backchannel_token_delivery_mode: 'poll',
          scopes: ['openid'],
          authorization_details_types: ['file_access', 'payment_initiation'],
        });
        // bob protects himself from unsolicited prompts with a user code.
        const bob = (document.users as Record<string, unknown>[]).find((u) => u.username === 'bob') ?? assert.fail();
        bob.user_code_hash = userCodeHash;
      },
    });
    AGENT.secret = 'ciba-agent-secret';
    device = new Device(server);
    await device.signIn('alice');
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  const ask = (form: Record<string, string>, as: { id: string; secret: string } = CIBA.poll) => backchannelRequest(server, as, form);
  const alice = { scope: 'openid', login_hint: 'alice' };
  /** Finds this test's request on the device by its binding message (others may be pending too). */
  async function shownWith(message: string): Promise<string> {
    const list = await device.pending();
    return list.find((shown) => shown.binding_message === message)?.id ?? assert.fail(`no request "${message}" on the device`);
  }

  function loginHintToken(claims: Record<string, unknown>, options: { key?: CryptoKey; exp?: number; iss?: string; aud?: string } = {}) {
    const now = server.clock.now();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer(options.iss ?? AGENT.id)
      .setAudience(options.aud ?? server.issuer)
      .setIssuedAt(now)
      .setExpirationTime(options.exp ?? now + 120)
      .sign(options.key ?? agentKey);
  }

  describe('C1: who the request is for', () => {
    it('control: a username, an email (any case) and a login_hint_token in each RFC 9493 format each name a user', async () => {
      for (const hint of ['alice', 'ALICE@example.com']) assert.equal((await ask({ ...alice, login_hint: hint })).status, 200, hint);
      for (const subId of [
        { format: 'email', email: 'alice@example.com' },
        { format: 'opaque', id: 'alice' },
        { format: 'iss_sub', iss: server.issuer, sub: 'alice' },
      ]) {
        const reply = await ask({ scope: 'openid', login_hint_token: await loginHintToken({ sub_id: subId }) }, AGENT);
        assert.equal(reply.status, 200, JSON.stringify([subId, reply.body]));
      }
    });

    it('C1: a hint naming nobody → 400 unknown_user_id (CIBA §13)', async () => {
      expectError(await ask({ ...alice, login_hint: 'mallory' }), 400, 'unknown_user_id');
      expectError(await ask({ ...alice, login_hint: 'mallory@example.com' }), 400, 'unknown_user_id');
      const nobody = await loginHintToken({ sub_id: { format: 'opaque', id: 'mallory' } });
      expectError(await ask({ scope: 'openid', login_hint_token: nobody }, AGENT), 400, 'unknown_user_id');
    });

    it('C1: an expired login_hint_token → 400 expired_login_hint_token (CIBA §13)', async () => {
      const expired = await loginHintToken({ sub_id: { format: 'opaque', id: 'alice' } }, { exp: server.clock.now() - 120 });
      expectError(await ask({ scope: 'openid', login_hint_token: expired }, AGENT), 400, 'expired_login_hint_token');
    });

    it('C1: a login_hint_token signed by another key, for another audience, from another issuer or without sub_id → 400 invalid_request', async () => {
      const subId = { sub_id: { format: 'opaque', id: 'alice' } };
      for (const token of [
        await loginHintToken(subId, { key: otherKey }),
        await loginHintToken(subId, { aud: 'https://elsewhere.example' }),
        await loginHintToken(subId, { iss: DEMO.assistant.id }),
        await loginHintToken({}),
        await loginHintToken({ sub_id: { format: 'phone_number', phone_number: '+1' } }),
      ]) {
        expectError(await ask({ scope: 'openid', login_hint_token: token }, AGENT), 400, 'invalid_request');
      }
    });

    it('C1: zero hints, or two → 400 invalid_request (CIBA §7.1: exactly one)', async () => {
      expectError(await ask({ scope: 'openid' }), 400, 'invalid_request');
      const token = await loginHintToken({ sub_id: { format: 'opaque', id: 'alice' } });
      expectError(await ask({ ...alice, login_hint_token: token }, AGENT), 400, 'invalid_request');
      expectError(await ask({ ...alice, id_token_hint: 'x.y.z' }), 400, 'invalid_request');
      expectError(
        await ask([
          ['scope', 'openid'],
          ['login_hint', 'alice'],
          ['login_hint', 'bob'],
        ] as never),
        400,
        'invalid_request',
      );
    });

    it('C1: an id_token_hint works only for the client it was issued to, and only if it is ours', async () => {
      const started = await ask({ ...alice, binding_message: 'id token hint' });
      await device.approve(await shownWith('id token hint'));
      const tokens = await redeem(server, CIBA.poll, field(started, 'auth_req_id'));
      const idToken = field(tokens, 'id_token');
      assert.equal((await ask({ scope: 'openid', id_token_hint: idToken })).status, 200, 'control: the assistant’s own ID token');
      expectError(await ask({ scope: 'openid', id_token_hint: idToken }, AGENT), 400, 'invalid_request');
      const [header, payload] = idToken.split('.');
      expectError(await ask({ scope: 'openid', id_token_hint: `${header}.${payload}.AAAA` }), 400, 'invalid_request');
      // An access token of ours is not an ID token.
      expectError(await ask({ scope: 'openid', id_token_hint: field(tokens, 'access_token') }), 400, 'invalid_request');
    });
  });

  describe('C2: binding_message', () => {
    it('control: printable text up to the limit, accents included', async () => {
      assert.equal((await ask({ ...alice, binding_message: 'Überweisung 4711 – OK' })).status, 200);
      assert.equal((await ask({ ...alice, binding_message: 'x'.repeat(64) })).status, 200);
    });

    it('C2: too long, or with control, format or bidi characters, or padded → 400 invalid_binding_message (CIBA §13)', async () => {
      for (const message of ['x'.repeat(65), 'line\nbreak', 'tab\there', 'bell\u0007', 'rtl\u202Eoverride', 'zero\u200Bwidth', ' padded']) {
        expectError(await ask({ ...alice, binding_message: message }), 400, 'invalid_binding_message');
      }
    });
  });

  describe('C3: who may ask, and the user code', () => {
    it('control: bob’s user code lets the request through', async () => {
      assert.equal((await ask({ scope: 'openid', login_hint: 'bob', user_code: USER_CODE }, AGENT)).status, 200);
    });

    it('C3: no user_code for a user who set one → 400 missing_user_code; a wrong one → 400 invalid_user_code (CIBA §13)', async () => {
      expectError(await ask({ scope: 'openid', login_hint: 'bob' }, AGENT), 400, 'missing_user_code');
      expectError(await ask({ scope: 'openid', login_hint: 'bob', user_code: 'guess' }, AGENT), 400, 'invalid_user_code');
    });

    it('C3: guessing the user code locks it: after max_failures even the right one is refused for a while', async () => {
      for (let i = 0; i < 5; i++) await ask({ scope: 'openid', login_hint: 'bob', user_code: `guess-${i}` }, AGENT);
      expectError(await ask({ scope: 'openid', login_hint: 'bob', user_code: USER_CODE }, AGENT), 400, 'invalid_user_code');
      server.clock.advance(301);
      assert.equal((await ask({ scope: 'openid', login_hint: 'bob', user_code: USER_CODE }, AGENT)).status, 200, 'after the lockout');
    });

    it('C3: a client without the CIBA grant → 400 unauthorized_client', async () => {
      expectError(await ask(alice, DEMO.opsBot), 400, 'unauthorized_client');
      expectError(await ask(alice, DEMO.reportService), 400, 'unauthorized_client');
    });

    it('C3: bad or missing client authentication → 401 invalid_client with a challenge', async () => {
      const wrong = await ask(alice, { id: CIBA.poll.id, secret: 'wrong-secret' });
      expectError(wrong, 401, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
      expectError(await post(`${server.issuer}/bc-authorize`, { ...alice, client_id: CIBA.poll.id }), 401, 'invalid_client');
    });

    it('scope without openid → 400 invalid_scope; a scope the client lacks → invalid_scope; no scope → invalid_request', async () => {
      expectError(await ask({ ...alice, scope: 'profile' }), 400, 'invalid_scope');
      expectError(await ask({ ...alice, scope: 'openid device.approve' }), 400, 'invalid_scope');
      expectError(await ask({ login_hint: 'alice' }), 400, 'invalid_request');
    });

    it('authorization_details are checked as at PAR: unknown type, bad field, or beyond the user’s policy → invalid_authorization_details', async () => {
      const ad = (value: unknown) => ({ ...alice, authorization_details: JSON.stringify(value) });
      expectError(await ask(ad([{ type: 'nuclear_launch' }])), 400, 'invalid_authorization_details');
      expectError(
        await ask(ad([{ ...PAYMENT, instructedAmount: { currency: 'EUR', amount: 50000 } }])),
        400,
        'invalid_authorization_details',
      );
      // bob is not in finance: the finance share is outside policy for him, though alice may ask for it.
      const finance = JSON.stringify([{ type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'] }]);
      const bob = { scope: 'openid', login_hint: 'bob', user_code: USER_CODE, authorization_details: finance };
      expectError(await ask(bob, AGENT), 400, 'invalid_authorization_details');
      assert.equal((await ask({ ...bob, login_hint: 'alice' }, AGENT)).status, 200, 'control: alice may');
    });

    it('acr_values: unknown values → invalid_request; a level the user cannot reach → 403 access_denied (CIBA §13)', async () => {
      expectError(await ask({ ...alice, acr_values: 'urn:example:loa:4' }), 400, 'invalid_request');
      const bob = { scope: 'openid', login_hint: 'bob', user_code: USER_CODE, acr_values: 'urn:palisade:acr:ciba' };
      expectError(await ask(bob, AGENT), 403, 'access_denied');
      assert.equal((await ask({ ...alice, acr_values: 'urn:palisade:acr:ciba' })).status, 200, 'alice has a second factor');
    });

    it('requested_expiry out of range, signed request objects, GET and query strings are refused', async () => {
      for (const expiry of ['0', '-5', '601', 'soon', '1.5'])
        expectError(await ask({ ...alice, requested_expiry: expiry }), 400, 'invalid_request');
      expectError(await ask({ ...alice, request: 'eyJhbGciOiJub25lIn0.e30.' }), 400, 'invalid_request');
      const get = await call(`${server.issuer}/bc-authorize`, { method: 'GET' });
      assert.equal(get.status, 405);
      const query = await call(`${server.issuer}/bc-authorize?login_hint=alice`, {
        method: 'POST',
        headers: { authorization: basic(CIBA.poll.id, CIBA.poll.secret) },
        body: new URLSearchParams({ scope: 'openid', login_hint: 'alice' }),
      });
      expectError(query, 400, 'invalid_request');
    });
  });

  describe('C4: auth_req_id', () => {
    it('C4: 256 bits of randomness, never repeated', async () => {
      const ids = new Set<string>();
      for (let i = 0; i < 20; i++) ids.add(field(await ask(alice), 'auth_req_id'));
      assert.equal(ids.size, 20);
      for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
    });

    it('C4: a guessed id, another client’s id, or one redeemed already → 400 invalid_grant', async () => {
      expectError(await redeem(server, CIBA.poll, 'A'.repeat(43)), 400, 'invalid_grant');
      const mine = field(await ask({ ...alice, binding_message: 'redeem once' }), 'auth_req_id');
      expectError(await redeem(server, CIBA.ping, mine), 400, 'invalid_grant');
      expectError(await redeem(server, AGENT, mine), 400, 'invalid_grant');
      await device.approve(await shownWith('redeem once'));
      const tokens = await redeem(server, CIBA.poll, mine);
      assert.equal(tokens.status, 200);
      expectError(await redeem(server, CIBA.poll, mine), 400, 'invalid_grant');
    });

    it('a missing auth_req_id → invalid_request; a client without the CIBA grant cannot redeem → unauthorized_client', async () => {
      expectError(
        await post(`${server.issuer}/token`, { grant_type: CIBA_GRANT }, basic(CIBA.poll.id, CIBA.poll.secret)),
        400,
        'invalid_request',
      );
      const id = field(await ask(alice), 'auth_req_id');
      expectError(await redeem(server, DEMO.opsBot, id), 400, 'unauthorized_client');
    });
  });

  describe('C5: polling', () => {
    it('C5: before a decision → authorization_pending; too fast → slow_down; after denial → access_denied; after expiry → expired_token', async () => {
      const pending = field(await ask(alice), 'auth_req_id');
      expectError(await redeem(server, CIBA.poll, pending), 400, 'authorization_pending');
      expectError(await redeem(server, CIBA.poll, pending), 400, 'slow_down');

      const denied = field(await ask(alice), 'auth_req_id');
      for (const shown of await device.pending()) await device.deny(shown.id);
      expectError(await redeem(server, CIBA.poll, denied), 400, 'access_denied');
      expectError(await redeem(server, CIBA.poll, denied), 400, 'access_denied');

      const expiring = field(await ask({ ...alice, requested_expiry: '10' }), 'auth_req_id');
      server.clock.advance(11);
      expectError(await redeem(server, CIBA.poll, expiring), 400, 'expired_token');
    });
  });

  describe('C6: client_notification_token', () => {
    const gatewayAsk = { scope: 'openid', login_hint: 'alice' };
    it('control: ping and push accept a token of 1024 characters', async () => {
      assert.equal((await ask({ ...gatewayAsk, client_notification_token: 'n'.repeat(1024) }, CIBA.ping)).status, 200);
      assert.equal((await ask({ ...gatewayAsk, client_notification_token: 'n'.repeat(1024) }, CIBA.push)).status, 200);
    });
    it('C6: ping or push without one, or with one over 1024 characters → 400 invalid_request (CIBA §7.1)', async () => {
      for (const as of [CIBA.ping, CIBA.push]) {
        expectError(await ask(gatewayAsk, as), 400, 'invalid_request');
        expectError(await ask({ ...gatewayAsk, client_notification_token: 'n'.repeat(1025) }, as), 400, 'invalid_request');
      }
    });
  });

  describe('C7, C8: delivery', () => {
    async function decideNext(action: 'approve' | 'deny'): Promise<void> {
      const list = await device.pending();
      const newest = list.at(-1) ?? assert.fail();
      if (action === 'approve') await device.approve(newest.id);
      else await device.deny(newest.id);
    }
    async function settle(): Promise<void> {
      // Clear what earlier tests left pending, so decideNext picks this test's request.
      for (const shown of await device.pending(0)) await device.deny(shown.id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      receiver.reset();
    }

    it('C7: the ping goes to the registered endpoint only, with the Bearer token and a body of only auth_req_id', async () => {
      await settle();
      const id = field(
        await ask({ scope: 'openid', login_hint: 'alice', client_notification_token: 'ping-abc' }, CIBA.ping),
        'auth_req_id',
      );
      await decideNext('approve');
      const ping = await receiver.next();
      assert.deepEqual(
        [ping.path, ping.headers.authorization, ping.headers['content-type'], ping.body],
        ['/ping', 'Bearer ping-abc', 'application/json', { auth_req_id: id }],
      );
    });

    it('C7: a redirect from the endpoint is not followed, and a 4xx is not retried', async () => {
      await settle();
      receiver.respondWith(302);
      await ask({ scope: 'openid', login_hint: 'alice', client_notification_token: 'ping-abc' }, CIBA.ping);
      await decideNext('deny');
      await receiver.next();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(
        receiver.received.map((r) => r.path),
        ['/ping'],
        'no request to the Location, no retry',
      );

      await settle();
      receiver.respondWith(400);
      await ask({ scope: 'openid', login_hint: 'alice', client_notification_token: 'ping-abc' }, CIBA.ping);
      await decideNext('deny');
      await receiver.next();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(receiver.received.length, 1, 'a 4xx is final');
    });

    it('a 5xx or a network failure is retried with backoff until delivered', async () => {
      await settle();
      receiver.respondWith(503);
      const id = field(
        await ask({ scope: 'openid', login_hint: 'alice', client_notification_token: 'ping-abc' }, CIBA.ping),
        'auth_req_id',
      );
      await decideNext('deny');
      const first = await receiver.next();
      const second = await receiver.next();
      assert.deepEqual([first.body, second.body], [{ auth_req_id: id }, { auth_req_id: id }]);
    });

    it('C8: push carries the Bearer token and an ID token with auth_req_id and at_hash', async () => {
      await settle();
      const id = field(
        await ask({ scope: 'openid', login_hint: 'alice', client_notification_token: 'push-abc' }, CIBA.push),
        'auth_req_id',
      );
      await decideNext('approve');
      const push = await receiver.next();
      assert.equal(push.headers.authorization, 'Bearer push-abc');
      const claims = decodeJwt(push.body.id_token as string);
      assert.equal(claims['urn:openid:params:jwt:claim:auth_req_id'], id);
      assert.equal(typeof claims.at_hash, 'string');
      assert.equal(claims.rt_hash, undefined, 'no refresh token was issued, so no rt_hash');
      assert.equal(decodeJwt(push.body.access_token as string).acr, 'urn:palisade:acr:ciba');
    });
  });
});

describe('the authentication device: sessions, step-up and the JSON API', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;

  /** alice authorizes the CLI as her device (authorization code + PKCE), as a mobile app would; the token is for <issuer>/device. */
  async function deviceToken(scope: string): Promise<string> {
    const config = await discover(server.issuer, DEMO.cli.id, client.None());
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:7777/callback',
      scope,
      resource: `${server.issuer}/device`,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 's',
    });
    server.clock.advance(30);
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), url, { ...DEMO.alice, now: server.clock.now() });
    return (await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's' })).access_token;
  }

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver);
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('approval needs a fresh, valid TOTP code: none, a wrong one and a replayed one are refused and change nothing', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    const id = field(await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice' }), 'auth_req_id');
    const [shown] = await device.pending();
    const rid = shown?.id ?? assert.fail();
    assert.equal(await device.approve(rid, { code: '' }), 'code_required');
    assert.equal(await device.approve(rid, { code: '000000' }), 'code_invalid');
    expectError(await redeem(server, CIBA.poll, id), 400, 'authorization_pending');
    // The code alice signed the device in with is spent: it cannot approve.
    const signInCode = await totpNow(DEMO.alice.totpSecret, server.clock.now());
    assert.equal(await device.approve(rid, { code: signInCode }), 'code_invalid');
    assert.equal(await device.approve(rid), 'approved');
  });

  it('one TOTP code sent to several approvals at once approves exactly one (RFC 6238 §5.2 under concurrency)', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    for (let round = 0; round < 3; round++) {
      const messages = [0, 1, 2].map((i) => `parallel ${round}.${i}`);
      for (const message of messages)
        await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: message });
      const rids = (await device.pending()).filter((r) => messages.includes(r.binding_message ?? '')).map((r) => r.id);
      assert.equal(rids.length, 3);
      server.clock.advance(30);
      const code = await totpNow(DEMO.alice.totpSecret, server.clock.now());
      const outcomes = await Promise.all(rids.map((rid) => device.approve(rid, { code })));
      assert.deepEqual(outcomes.filter((o) => o === 'approved').length, 1, JSON.stringify(outcomes));
      assert.deepEqual(outcomes.filter((o) => o === 'code_invalid').length, 2, JSON.stringify(outcomes));
      for (const rid of rids) await device.deny(rid);
    }
  });

  it('an approved request redeemed after its expiry → expired_token (CIBA §7.3: expires_in is the life of the auth_req_id)', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    const id = field(
      await backchannelRequest(server, CIBA.poll, {
        scope: 'openid',
        login_hint: 'alice',
        binding_message: 'late',
        requested_expiry: '60',
      }),
      'auth_req_id',
    );
    const rid = (await device.pending()).find((r) => r.binding_message === 'late')?.id ?? assert.fail();
    assert.equal(await device.approve(rid), 'approved');
    server.clock.advance(61);
    expectError(await redeem(server, CIBA.poll, id), 400, 'expired_token');
  });

  it('the event stream ends when the device signs out', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    const response = await fetch(`${device.url}/events`, {
      headers: { cookie: device.browser.cookieHeader(new URL(`${device.url}/events`)) },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = (response.body ?? assert.fail()).getReader();
    await reader.read();
    const home = await (await device.browser.request(device.url)).text();
    const csrf = /<meta name="palisade-csrf" content="([^"]+)"/.exec(home)?.[1] ?? assert.fail();
    assert.equal((await device.browser.request(`${device.url}/logout`, { form: { csrf } })).status, 303);
    const ended = await Promise.race([
      (async () => {
        for (;;) if ((await reader.read()).done) return true;
      })(),
      new Promise((resolve) => setTimeout(() => resolve(false), 5000)),
    ]);
    assert.equal(ended, true, 'the stream closed within one refresh');
    assert.equal(
      (await fetch(`${device.url}/events`, { headers: { cookie: device.browser.cookieHeader(new URL(`${device.url}/events`)) } })).status,
      401,
    );
  });

  it('markup in a binding message or a detail is shown as text on the device page', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    const detail = {
      type: 'file_access',
      locations: ['http://127.0.0.1:9410/finance'],
      actions: ['read'],
      identifier: '<img src=x onerror=alert(1)>.pdf',
    };
    await backchannelRequest(server, CIBA.poll, {
      scope: 'openid',
      login_hint: 'alice',
      binding_message: '<b>pay</b>',
      authorization_details: JSON.stringify([detail]),
    });
    const page = await (await device.browser.request(device.url)).text();
    assert.ok(page.includes('&#60;b&#62;pay&#60;/b&#62;'));
    assert.ok(page.includes('&#60;img src=x onerror=alert(1)&#62;.pdf'));
    assert.ok(!page.includes('<b>pay') && !page.includes('<img'));
  });

  it('a user without a second factor approves with one tap, and the tokens say so (acr pwd, amr pwd)', async () => {
    const device = new Device(server);
    await device.signIn('bob');
    const id = field(await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'bob' }), 'auth_req_id');
    const [shown] = await device.pending();
    assert.equal(shown?.needs_code, false);
    assert.equal(await device.deny('no-such-request'), 'not_found');
    assert.equal(await device.approve(shown?.id ?? ''), 'approved');
    const access = decodeJwt(field(await redeem(server, CIBA.poll, id), 'access_token'));
    assert.deepEqual([access.acr, access.amr], ['urn:palisade:acr:pwd', ['pwd']]);
  });

  it('a device sees and answers only its own user’s requests', async () => {
    const aliceDevice = new Device(server);
    await aliceDevice.signIn('alice');
    const bobDevice = new Device(server);
    await bobDevice.signIn('bob');
    await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'for alice' });
    const aliceSees = await aliceDevice.pending();
    const rid = aliceSees.find((r) => r.binding_message === 'for alice')?.id ?? assert.fail();
    assert.ok(!(await bobDevice.pending(0)).some((r) => r.id === rid));
    assert.equal(await bobDevice.approve(rid), 'not_found');
    assert.equal(await bobDevice.deny(rid), 'not_found');
  });

  it('a cross-site or token-less form POST is refused with 403 and decides nothing', async () => {
    const device = new Device(server);
    await device.signIn('alice');
    await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'csrf probe' });
    const rid = (await device.pending()).find((r) => r.binding_message === 'csrf probe')?.id ?? assert.fail();
    const forged = await device.browser.request(`${device.url}/requests/${rid}/deny`, { form: { csrf: 'forged' } });
    assert.equal(forged.status, 403);
    const home = await (await device.browser.request(device.url)).text();
    const csrf = /<meta name="palisade-csrf" content="([^"]+)"/.exec(home)?.[1] ?? assert.fail();
    // The right token, from a cross-site page: still refused (Origin / Sec-Fetch-Site).
    const crossSite = await device.browser.request(`${device.url}/requests/${rid}/deny`, {
      form: { csrf },
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(crossSite.status, 403);
    assert.ok(
      (await device.pending()).some((r) => r.id === rid),
      'still pending',
    );
  });

  it('without a device session, the event stream is 401 and actions go back to sign-in', async () => {
    const stream = await fetch(`${server.issuer}/device/events`);
    assert.equal(stream.status, 401);
    await stream.body?.cancel();
    const action = await fetch(`${server.issuer}/device/requests/x/approve`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ csrf: 'x' }),
    });
    assert.equal(action.status, 303);
    assert.equal(action.headers.get('location'), '/device');
  });

  it('the JSON API takes only a device token: none → bare 401, wrong audience → 401 invalid_token, no scope → 403 insufficient_scope', async () => {
    const api = `${server.issuer}/device/api/requests`;
    const none = await fetch(api);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="palisade"');
    await none.body?.cancel();
    // A gateway token of alice's is not a device token.
    const started = field(
      await backchannelRequest(server, CIBA.ping, {
        scope: 'openid tools.access',
        login_hint: 'alice',
        client_notification_token: 'n',
        resource: DEMO.gateway,
      }),
      'auth_req_id',
    );
    const device = new Device(server);
    await device.signIn('alice');
    const shown = (await device.pending()).find((r) => r.client.id === CIBA.ping.id) ?? assert.fail();
    await device.approve(shown.id);
    const gatewayToken = field(await redeem(server, CIBA.ping, started), 'access_token');
    const wrong = await fetch(api, { headers: { authorization: `Bearer ${gatewayToken}` } });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await wrong.body?.cancel();
    // A token for the device, but without the device.approve scope.
    const unscoped = await call(api, { headers: { authorization: `Bearer ${await deviceToken('openid')}` } });
    expectError(unscoped, 403, 'insufficient_scope');
    assert.match(unscoped.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
  });

  it('the JSON API with a device token: list, approve with a code, deny; errors are standard', async () => {
    const deviceAudience = `${server.issuer}/device`;
    const auth = { authorization: `Bearer ${await deviceToken('openid device.approve')}` };

    const approveMe = field(
      await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'api approve' }),
      'auth_req_id',
    );
    await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'api deny' });
    const listed = (await call(`${deviceAudience}/api/requests`, { headers: auth })).body.requests as {
      id: string;
      binding_message: string;
    }[];
    const approveRid = listed.find((r) => r.binding_message === 'api approve')?.id ?? assert.fail();
    const denyRid = listed.find((r) => r.binding_message === 'api deny')?.id ?? assert.fail();

    const act = (rid: string, action: string, body?: unknown): Promise<Reply> =>
      call(`${deviceAudience}/api/requests/${rid}/${action}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
      });
    expectError(await act(approveRid, 'approve'), 400, 'invalid_request');
    expectError(await act(approveRid, 'approve', { code: '000000' }), 400, 'invalid_grant');
    expectError(await act('unknown', 'approve', { code: '123456' }), 404, 'not_found');
    server.clock.advance(30);
    const approved = await act(approveRid, 'approve', { code: await totpNow(DEMO.alice.totpSecret, server.clock.now()) });
    assert.deepEqual([approved.status, approved.body], [200, { status: 'approved' }]);
    expectError(await act(approveRid, 'deny'), 400, 'invalid_request');
    assert.deepEqual((await act(denyRid, 'deny')).body, { status: 'denied' });
    const access = decodeJwt(field(await redeem(server, CIBA.poll, approveMe), 'access_token'));
    assert.equal(access.acr, 'urn:palisade:acr:ciba');
  });
});
