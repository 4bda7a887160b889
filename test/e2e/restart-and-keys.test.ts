import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { stringify } from 'yaml';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest, opsBot } from '../helpers/clients.js';
import { DEMO, freePort, startTestIdp } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));

describe('state survives a restart; keys rotate without breaking tokens', () => {
  it('a refresh token issued before a restart works after it, and the signing keys are the same', async () => {
    const port = await freePort();
    const first = await startTestIdp({ port });
    const config = await assistant(first.issuer);
    const request = await authorizationRequest(config);
    const callback = await authorizeInBrowser(new ScriptedBrowser(first.issuer), request.url, { ...DEMO.bob });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const jwksBefore = await (await fetch(`${first.issuer}/jwks`)).json();
    await first.stop();

    const second = await startTestIdp({ port, dataDir: first.dataDir });
    try {
      assert.deepEqual(await (await fetch(`${second.issuer}/jwks`)).json(), jwksBefore, 'keys persisted in the store');
      const refreshed = await client.refreshTokenGrant(
        await assistant(second.issuer),
        tokens.refresh_token ?? assert.fail('no refresh token'),
      );
      assert.ok(refreshed.access_token);
      assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true, 'access token record persisted');
    } finally {
      await second.close();
    }
  });

  it('`palisade keys rotate` signs new tokens with a new key while tokens signed by the old one still verify', async () => {
    const port = await freePort();
    const server = await startTestIdp({ port });
    try {
      const bot = await opsBot(server.issuer);
      const before = await client.clientCredentialsGrant(bot);
      const oldKid = decodeProtectedHeader(before.access_token).kid;

      // The CLI works on the same store through a configuration file, as an operator would.
      const configFile = join(server.dataDir, 'palisade.yaml');
      writeFileSync(configFile, stringify({ issuer: server.issuer, data_dir: server.dataDir, keys: { algorithms: ['ES256', 'RS256'] } }));
      const output = execFileSync(process.execPath, [CLI, 'keys', 'rotate', '--config', configFile], { encoding: 'utf8' });
      assert.match(output, /rotated/);
      await server.idp.context.keystore.reload();

      const after = await client.clientCredentialsGrant(bot);
      const newKid = decodeProtectedHeader(after.access_token).kid;
      assert.notEqual(newKid, oldKid);
      const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string; d?: string }[] };
      const kids = jwks.keys.map((k) => k.kid);
      assert.ok(kids.includes(oldKid as string) && kids.includes(newKid as string), 'both keys published');
      assert.ok(
        jwks.keys.every((k) => k.d === undefined),
        'no private key material in the JWKS',
      );
      assert.equal((await client.tokenIntrospection(bot, before.access_token)).active, true, 'old token still verifies');
      assert.equal((await client.tokenIntrospection(bot, after.access_token)).active, true);
    } finally {
      await server.close();
    }
  });
});
