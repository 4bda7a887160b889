import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@palisade/core';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { backchannelRequest, CIBA, Device, NotificationReceiver, PAYMENT, redeem, startCibaIdp } from '../helpers/ciba.js';
import { assistant } from '../helpers/clients.js';
import { basic, expectError, field, post } from '../helpers/http.js';
import type { TestIdp } from '../helpers/idp.js';

const insecure = { [oauth.allowInsecureRequests]: true };

/** OIDC Core §3.1.3.6 (and CIBA §10.3.1 for rt_hash): left half of SHA-256, for RS256-signed ID tokens. */
function halfHash(value: string): string {
  const digest = createHash('sha256').update(value).digest();
  return digest.subarray(0, 16).toString('base64url');
}

describe('CIBA poll mode with openid-client: the assistant asks, alice approves on her device', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let device: Device;
  let config: client.Configuration;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver);
    device = new Device(server);
    await device.signIn('alice');
    config = await assistant(server.issuer);
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('discovery advertises the backchannel endpoint, the three delivery modes and user_code support (CIBA §4)', () => {
    const metadata = config.serverMetadata();
    assert.equal(metadata.backchannel_authentication_endpoint, `${server.issuer}/bc-authorize`);
    assert.deepEqual(metadata.backchannel_token_delivery_modes_supported, ['poll', 'ping', 'push']);
    assert.equal(metadata.backchannel_user_code_parameter_supported, true);
    assert.ok(metadata.grant_types_supported?.includes('urn:openid:params:grant-type:ciba'));
  });

  it('approval with a fresh TOTP code: tokens once, with the approved detail, acr ciba and amr otp; a second redemption fails', async () => {
    const started = await client.initiateBackchannelAuthentication(config, {
      scope: 'openid',
      login_hint: 'alice',
      binding_message: 'Transfer 4711',
      authorization_details: JSON.stringify([PAYMENT]),
    });
    assert.ok(started.auth_req_id.length >= 43, 'at least 256 bits, base64url');
    assert.equal(started.interval, 1);
    assert.ok(started.expires_in > 0);

    const [shown] = await device.pending();
    assert.ok(shown);
    assert.deepEqual(shown.headlines, [
      'Finance assistant asks to make a payment of EUR 50000.00 to Acme Supplies GmbH (DE89370400440532013000)',
    ]);
    assert.equal(shown.binding_message, 'Transfer 4711');
    assert.equal(shown.needs_code, true);
    assert.equal(await device.approve(shown.id), 'approved');

    const tokens = await client.pollBackchannelAuthenticationGrant(config, started);
    const access = decodeJwt(tokens.access_token);
    assert.equal(access.sub, 'alice');
    assert.equal(access.acr, 'urn:palisade:acr:ciba');
    assert.ok((access.amr as string[]).includes('otp'));
    assert.deepEqual(access.authorization_details, [PAYMENT]);
    assert.deepEqual(tokens.authorization_details, [PAYMENT]);
    assert.equal(tokens.claims()?.sub, 'alice');
    assert.equal(tokens.claims()?.acr, 'urn:palisade:acr:ciba');

    expectError(await redeem(server, CIBA.poll, started.auth_req_id), 400, 'invalid_grant');
  });

  it('denial: the poll ends in access_denied, and the request leaves the device', async () => {
    const started = await client.initiateBackchannelAuthentication(config, { scope: 'openid', login_hint: 'alice@example.com' });
    const [shown] = await device.pending();
    assert.ok(shown);
    assert.equal(await device.deny(shown.id), 'denied');
    await assert.rejects(client.pollBackchannelAuthenticationGrant(config, started), (error: client.ResponseBodyError) => {
      assert.equal(error.error, 'access_denied');
      return true;
    });
    assert.equal(await device.deny(shown.id), 'already_decided', 'a decision is final');
    assert.equal(await device.approve(shown.id), 'already_decided');
  });

  it('polling faster than the interval is slow_down, and the interval grows for that request (CIBA §11)', async () => {
    const started = await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice' });
    const id = field(started, 'auth_req_id');
    expectError(await redeem(server, CIBA.poll, id), 400, 'authorization_pending');
    expectError(await redeem(server, CIBA.poll, id), 400, 'slow_down');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // One old interval later is still too soon: the interval is now 6 s (and 11 after this).
    expectError(await redeem(server, CIBA.poll, id), 400, 'slow_down');
    await new Promise((resolve) => setTimeout(resolve, 11_100));
    expectError(await redeem(server, CIBA.poll, id), 400, 'authorization_pending');
  });

  it('after expiry, the poll is expired_token and the device no longer shows the request', async () => {
    const earlier = new Set((await device.pending(0)).map((shown) => shown.id));
    const started = await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', requested_expiry: '30' });
    assert.equal(started.body.expires_in, 30);
    const id = field(started, 'auth_req_id');
    const rid = (await device.pending(earlier.size + 1)).find((shown) => !earlier.has(shown.id))?.id ?? assert.fail();
    server.clock.advance(31);
    expectError(await redeem(server, CIBA.poll, id), 400, 'expired_token');
    assert.ok(!(await device.pending(0)).some((shown) => shown.id === rid), 'gone from the device');
    assert.equal(await device.approve(rid), 'expired', 'an expired request cannot be approved');
  });
});

describe('CIBA ping mode: the IdP calls the gateway back, oauth4webapi redeems', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let device: Device;
  let as: oauth.AuthorizationServer;
  const gateway: oauth.Client = { client_id: CIBA.ping.id };

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver);
    device = new Device(server);
    await device.signIn('alice');
    const issuer = new URL(server.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oidc' }));
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  async function start(extra: Record<string, string> = {}) {
    const response = await oauth.backchannelAuthenticationRequest(
      as,
      gateway,
      oauth.ClientSecretBasic(CIBA.ping.secret),
      {
        scope: 'openid tools.access',
        login_hint: 'alice',
        client_notification_token: 'ping-token-0123456789abcdef',
        resource: 'http://127.0.0.1:9401/mcp',
        ...extra,
      },
      insecure,
    );
    return oauth.processBackchannelAuthenticationResponse(as, gateway, response);
  }

  async function grant(authReqId: string) {
    const response = await oauth.backchannelAuthenticationGrantRequest(
      as,
      gateway,
      oauth.ClientSecretBasic(CIBA.ping.secret),
      authReqId,
      insecure,
    );
    return oauth.processBackchannelAuthenticationGrantResponse(as, gateway, response);
  }

  it('approval: one POST to the registered endpoint with the notification token and only the auth_req_id; then tokens for the gateway', async () => {
    const started = await start();
    const [shown] = await device.pending();
    assert.ok(shown);
    await device.approve(shown.id);
    const ping = await receiver.next();
    assert.equal(ping.path, '/ping');
    assert.equal(ping.headers.authorization, 'Bearer ping-token-0123456789abcdef');
    assert.deepEqual(ping.body, { auth_req_id: started.auth_req_id });
    const tokens = await grant(started.auth_req_id);
    const access = decodeJwt(tokens.access_token);
    assert.equal(access.aud, 'http://127.0.0.1:9401/mcp');
    assert.equal(access.client_id, CIBA.ping.id);
    assert.equal(access.sub, 'alice');
  });

  it('denial: a ping too, and the token endpoint says access_denied', async () => {
    const started = await start();
    const [shown] = await device.pending();
    assert.ok(shown);
    await device.deny(shown.id);
    assert.deepEqual((await receiver.next()).body, { auth_req_id: started.auth_req_id });
    await assert.rejects(grant(started.auth_req_id), (error: oauth.ResponseBodyError) => error.error === 'access_denied');
  });

  it('expiry: a ping when the time is up, and the token endpoint says expired_token', async () => {
    const started = await start({ requested_expiry: '1' });
    server.clock.advance(5);
    assert.deepEqual((await receiver.next()).body, { auth_req_id: started.auth_req_id });
    await assert.rejects(grant(started.auth_req_id), (error: oauth.ResponseBodyError) => error.error === 'expired_token');
  });
});

describe('CIBA push mode: the tokens themselves go to the client (CIBA §10.3)', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let device: Device;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver, {
      mutate: (document) => {
        // A push client that may refresh, so the pushed ID token carries rt_hash too.
        const push = document.clients.find((c) => c.client_id === CIBA.push.id) ?? assert.fail();
        push.grant_types = ['authorization_code', 'refresh_token', 'urn:openid:params:grant-type:ciba'];
        push.redirect_uris = ['http://127.0.0.1:8765/callback'];
      },
    });
    device = new Device(server);
    await device.signIn('alice');
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  it('approval: access, refresh and ID token pushed with the Bearer notification token; the ID token names the request and hashes both tokens', async () => {
    const started = await backchannelRequest(server, CIBA.push, {
      scope: 'openid tools.access',
      login_hint: 'alice',
      client_notification_token: 'push-token-0123456789abcdef',
      resource: 'http://127.0.0.1:9401/mcp',
    });
    const authReqId = field(started, 'auth_req_id');
    assert.equal(started.body.interval, undefined, 'push clients do not poll');
    const [shown] = await device.pending();
    await device.approve(shown?.id ?? '');
    const push = await receiver.next();
    assert.equal(push.path, '/push');
    assert.equal(push.headers.authorization, 'Bearer push-token-0123456789abcdef');
    assert.equal(push.body.auth_req_id, authReqId);
    assert.equal(push.body.token_type, 'Bearer');
    const accessToken = push.body.access_token as string;
    const refreshToken = push.body.refresh_token as string;
    assert.ok(accessToken && refreshToken);
    const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
    const { payload } = await jwtVerify(push.body.id_token as string, jwks, {
      issuer: server.issuer,
      audience: CIBA.push.id,
      currentDate: new Date(server.clock.now() * 1000),
    });
    assert.equal(payload['urn:openid:params:jwt:claim:auth_req_id'], authReqId);
    assert.equal(payload.at_hash, halfHash(accessToken));
    assert.equal(payload.rt_hash, halfHash(refreshToken));
    // Pushed tokens are the only redemption: the token endpoint refuses a push client.
    expectError(await redeem(server, CIBA.push, authReqId), 400, 'unauthorized_client');
  });

  it('denial and expiry are pushed as errors naming the request (CIBA §12)', async () => {
    const denied = field(
      await backchannelRequest(server, CIBA.push, {
        scope: 'openid',
        login_hint: 'alice',
        client_notification_token: 'push-token-0123456789abcdef',
      }),
      'auth_req_id',
    );
    const [shown] = await device.pending();
    await device.deny(shown?.id ?? '');
    const deniedPush = await receiver.next();
    assert.deepEqual([deniedPush.body.auth_req_id, deniedPush.body.error], [denied, 'access_denied']);
    assert.equal(deniedPush.body.access_token, undefined);

    const expired = field(
      await backchannelRequest(server, CIBA.push, {
        scope: 'openid',
        login_hint: 'alice',
        client_notification_token: 'push-token-0123456789abcdef',
        requested_expiry: '1',
      }),
      'auth_req_id',
    );
    server.clock.advance(5);
    const expiredPush = await receiver.next();
    assert.deepEqual([expiredPush.body.auth_req_id, expiredPush.body.error], [expired, 'expired_token']);
  });
});

describe('CIBA notifications survive trouble', () => {
  let receiver: NotificationReceiver;
  before(async () => {
    receiver = await new NotificationReceiver().start();
  });
  after(() => receiver.close());

  it('pushed tokens the client refuses are revoked: nobody could fetch them later', async () => {
    const server = await startCibaIdp(receiver);
    try {
      const device = new Device(server);
      await device.signIn('alice');
      const introspect = (token: string) => post(`${server.issuer}/introspect`, { token }, basic(CIBA.ping.id, CIBA.ping.secret));
      const pushed = async (status: number) => {
        receiver.reset();
        receiver.respondWith(status);
        await backchannelRequest(server, CIBA.push, {
          scope: 'openid tools.access',
          login_hint: 'alice',
          client_notification_token: 'push-abc',
          resource: 'http://127.0.0.1:9401/mcp',
        });
        const [shown] = await device.pending();
        await device.approve(shown?.id ?? '');
        const token = (await receiver.next()).body.access_token as string;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return token;
      };
      assert.equal((await introspect(await pushed(204))).body.active, true, 'control: delivered tokens stay valid');
      const introspected = await introspect(await pushed(400));
      assert.deepEqual(introspected.body, { active: false });
    } finally {
      await server.close();
    }
  });

  it('a node stopped while its ping is being retried: after a restart the outbox sweep delivers it', async () => {
    const clock = new ManualClock();
    const first = await startCibaIdp(receiver, { clock, mutate: (d) => Object.assign(d.ciba as object, { sweep_interval: 1 }) });
    const device = new Device(first);
    await device.signIn('alice');
    receiver.reset();
    receiver.respondWith(503);
    const id = field(
      await backchannelRequest(first, CIBA.ping, { scope: 'openid', login_hint: 'alice', client_notification_token: 'ping-abc' }),
      'auth_req_id',
    );
    const [shown] = await device.pending();
    await device.approve(shown?.id ?? '');
    await receiver.next();
    // The node goes away during its backoff; the 503 was the only attempt.
    await first.stop();
    const second = await startCibaIdp(receiver, {
      clock,
      dataDir: first.dataDir,
      port: Number(new URL(first.issuer).port),
      mutate: (d) => Object.assign(d.ciba as object, { sweep_interval: 1 }),
    });
    try {
      clock.advance(61);
      const resumed = await receiver.next(5000);
      assert.deepEqual(resumed.body, { auth_req_id: id });
      assert.equal(resumed.headers.authorization, 'Bearer ping-abc');
      assert.equal((await redeem(second, CIBA.ping, id)).status, 200);
    } finally {
      await second.close();
    }
  });
});
