import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/palisade.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../../../examples/demo/palisade.yaml', import.meta.url));

function palisade(args: string[], input?: string) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input: input ?? '' });
}

describe('palisade CLI', () => {
  it('config check accepts the demo realm', () => {
    const result = palisade(['config', 'check', DEMO]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /valid \(issuer http:\/\/127\.0\.0\.1:9400, 3 users, 9 clients, 7 resource servers\)/);
  });

  it('config check exits 2 and names the bad key', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'palisade-cli-')), 'bad.yaml');
    writeFileSync(
      file,
      'issuer: http://127.0.0.1:9400\nclients:\n  - client_id: x\n    token_endpoint_auth_method: none\n    grant_types: [authorization_code]\n    redirect_uris: [not-a-url]\n',
    );
    const result = palisade(['config', 'check', file]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /clients\[0\]\.redirect_uris\[0\] must be an absolute http\(s\) URL/);
  });

  it('hash-password prints an argon2id hash that never contains the password', () => {
    const result = palisade(['hash-password'], 'correct horse battery staple\n');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\$argon2id\$v=19\$/);
    assert.doesNotMatch(result.stdout, /horse/);
  });

  it('prints usage for an unknown command and exits 2', () => {
    const result = palisade(['frobnicate']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /usage: palisade/);
  });
});
