import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@palisade/core';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { basic, expectError, field, post } from '../helpers/http.js';
import { DEMO, DEMO_CONFIG, freePort, startTestIdp, type TestIdp } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));

describe('palisade db export | import: a realm moves to a new store and nothing is lost', () => {
  let port: number;
  let clock: ManualClock;
  let source: TestIdp;
  let target: TestIdp;
  let targetDir: string;
  let exportFile: string;
  let refresh: { current: string; rotated: string };
  let agentToken: string;

  const palisade = (args: string[], dataDir: string) =>
    spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      env: { ...process.env, PALISADE_DATA: dataDir, PALISADE_IDP_PORT: String(port) },
    });

  before(async () => {
    port = await freePort();
    clock = new ManualClock();
    source = await startTestIdp({ port, clock });
    // bob signs in; his refresh token is rotated once, so the family has a used member.
    const config = await assistant(source.issuer);
    const request = await authorizationRequest(config, { scope: 'openid offline_access' });
    const callback = await authorizeInBrowser(new ScriptedBrowser(source.issuer), request.url, { ...DEMO.bob });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
    refresh = { rotated: tokens.refresh_token ?? '', current: rotated.refresh_token ?? '' };
    agentToken = field(
      await post(`${source.issuer}/token`, { grant_type: 'client_credentials' }, basic(DEMO.opsBot.id, DEMO.opsBot.secret)),
      'access_token',
    );
    await source.stop();

    exportFile = join(mkdtempSync(join(tmpdir(), 'palisade-export-')), 'realm.jsonl');
    const exported = palisade(['db', 'export', '--config', DEMO_CONFIG, '--out', exportFile], source.dataDir);
    assert.equal(exported.status, 0, exported.stderr);
    targetDir = mkdtempSync(join(tmpdir(), 'palisade-target-'));
    const imported = palisade(['db', 'import', '--config', DEMO_CONFIG, exportFile], targetDir);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /^imported \d+ records and \d+ audit records\n$/);
    target = await startTestIdp({ port, clock, dataDir: targetDir });
  });
  after(async () => {
    await target.close();
    rmSync(source.dataDir, { recursive: true, force: true });
    rmSync(exportFile, { force: true });
  });

  it('the export is private to its owner (it holds signing keys)', () => {
    assert.equal(statSync(exportFile).mode & 0o777, 0o600);
  });

  it('tokens issued before the move verify after it: same keys, same records', async () => {
    const introspected = await post(`${target.issuer}/introspect`, { token: agentToken }, basic(DEMO.opsBot.id, DEMO.opsBot.secret));
    assert.equal(introspected.body.active, true);
  });

  it('the audit chain moved whole: verify passes on the new store', () => {
    const verify = palisade(['audit', 'verify', '--config', DEMO_CONFIG], targetDir);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });

  it('importing twice into the same store is refused and changes nothing', () => {
    const again = palisade(['db', 'import', '--config', DEMO_CONFIG, exportFile], targetDir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /the target store is not empty/);
  });

  it('grant state moved too: the current refresh token works, and the used one is still recognised as reuse', async () => {
    const auth = basic(DEMO.assistant.id, DEMO.assistant.secret);
    const refreshed = await post(`${target.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refresh.current }, auth);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    expectError(
      await post(`${target.issuer}/token`, { grant_type: 'refresh_token', refresh_token: refresh.rotated }, auth),
      400,
      'invalid_grant',
    );
    // Reuse revoked the family, as it would have before the move.
    expectError(
      await post(`${target.issuer}/token`, { grant_type: 'refresh_token', refresh_token: field(refreshed, 'refresh_token') }, auth),
      400,
      'invalid_grant',
    );
  });
});
