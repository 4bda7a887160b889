import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest, opsBot } from '../helpers/clients.js';
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
});
