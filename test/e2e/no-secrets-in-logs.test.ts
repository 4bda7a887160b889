import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { backchannelRequest, CIBA, Device, NotificationReceiver, redeem, startCibaIdp } from '../helpers/ciba.js';
import { assistant, authorizationRequest, opsBot } from '../helpers/clients.js';
import { field } from '../helpers/http.js';
import { DEMO, startTestIdp } from '../helpers/idp.js';

describe('logs never carry a token, code, verifier, password or secret (SECURITY L3; OAuth 2.1 §7)', () => {
  it('a whole session of good and bad requests, logged at trace level, leaks nothing', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startTestIdp({ logger: { level: 'trace', stream } });
    const secrets: string[] = [DEMO.alice.password, DEMO.assistant.secret, DEMO.opsBot.secret, DEMO.alice.totpSecret];
    try {
      const bot = await opsBot(server.issuer);
      const cc = await client.clientCredentialsGrant(bot);
      secrets.push(cc.access_token);
      await client.tokenIntrospection(bot, cc.access_token);
      await client.tokenRevocation(bot, cc.access_token);

      const config = await assistant(server.issuer);
      const request = await authorizationRequest(config);
      secrets.push(request.verifier);
      const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, {
        ...DEMO.alice,
        now: server.clock.now(),
      });
      const code = callback.searchParams.get('code') ?? assert.fail('no code');
      // (The 6-digit TOTP code is not searched for: any timestamp in the log could contain it by chance.)
      secrets.push(code);
      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
      });
      secrets.push(tokens.access_token, tokens.refresh_token ?? '', tokens.id_token ?? '');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
      secrets.push(refreshed.access_token, refreshed.refresh_token ?? '');

      // Misplaced secrets: in query strings, in a replayed code, as a wrong password.
      await fetch(`${server.issuer}/token?client_secret=${DEMO.opsBot.secret}&code=${code}`, { method: 'POST' });
      await fetch(`${server.issuer}/userinfo?access_token=${tokens.access_token}`);
      await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: 'assistant', client_secret: 'wrong-secret-value' }),
      });
      secrets.push('wrong-secret-value');
    } finally {
      await server.close();
    }
    const log = lines.join('');
    assert.ok(lines.length > 20, 'the logger was really used');
    for (const secret of secrets.filter((s) => s.length >= 8)) {
      assert.equal(log.includes(secret), false, `a secret of ${secret.length} characters appears in the log`);
    }
  });

  it('CIBA: auth_req_ids, notification tokens, pushed tokens and device cookies stay out of the log, while every notification attempt is in it', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const receiver = await new NotificationReceiver().start();
    const server = await startCibaIdp(receiver, { logger: { level: 'trace', stream } });
    const secrets: string[] = [
      DEMO.alice.password,
      CIBA.ping.secret,
      CIBA.push.secret,
      'ping-notification-token-1',
      'push-notification-token-2',
    ];
    try {
      const device = new Device(server);
      await device.signIn('alice');
      secrets.push(
        ...device.browser
          .cookieHeader(new URL(device.url))
          .split('; ')
          .map((c) => c.split('=')[1] ?? ''),
      );
      const polled = field(
        await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'poll' }),
        'auth_req_id',
      );
      const pinged = field(
        await backchannelRequest(server, CIBA.ping, {
          scope: 'openid',
          login_hint: 'alice',
          binding_message: 'ping',
          client_notification_token: 'ping-notification-token-1',
        }),
        'auth_req_id',
      );
      const pushed = field(
        await backchannelRequest(server, CIBA.push, {
          scope: 'openid',
          login_hint: 'alice',
          binding_message: 'push',
          client_notification_token: 'push-notification-token-2',
        }),
        'auth_req_id',
      );
      secrets.push(polled, pinged, pushed);
      for (const shown of await device.pending(3)) await device.approve(shown.id);
      await receiver.next();
      const push = await receiver.next();
      secrets.push(String(push.body.access_token), String(push.body.id_token));
      await redeem(server, CIBA.poll, 'not-a-real-auth-req-id-but-long-enough');
      const tokens = await redeem(server, CIBA.poll, polled);
      secrets.push(field(tokens, 'access_token'), field(tokens, 'id_token'));
    } finally {
      await server.close();
      await receiver.close();
    }
    const log = lines.join('');
    assert.equal(lines.filter((line) => line.includes('"event":"ciba.notification"')).length, 2, 'one logged attempt per notification');
    assert.ok(log.includes('"event":"ciba.approved"'));
    for (const secret of secrets.filter((s) => s.length >= 8)) {
      assert.equal(log.includes(secret), false, `a secret of ${secret.length} characters appears in the log`);
    }
  });
});
