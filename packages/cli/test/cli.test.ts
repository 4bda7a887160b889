import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('users and clients: list, add, set-password, enroll-totp edit the file in place, keep its comments, and check it first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-cli-realm-'));
    const file = join(dir, 'palisade.yaml');
    copyFileSync(DEMO, file);
    const run = (args: string[], input?: string, env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [CLI, ...args, '--config', file], {
        encoding: 'utf8',
        input: input ?? '',
        env: { ...process.env, ...env },
      });

    const listed = run(['users', 'list', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { username: string; totp: boolean }[]).map((u) => [u.username, u.totp]),
      [
        ['alice', true],
        ['bob', false],
        ['carol', false],
      ],
    );
    assert.doesNotMatch(listed.stdout, /argon2|JBSW/);

    const added = run(['users', 'add', '--user', 'dave', '--name', 'Dave Lee', '--groups', 'finance'], 'dave-password-1\n');
    assert.equal(added.status, 0, added.stderr);
    const afterAdd = readFileSync(file, 'utf8');
    assert.match(afterAdd, /# Palisade demo realm — DEVELOPMENT ONLY\./, 'comments survive');
    assert.match(afterAdd, /username: dave/);
    assert.doesNotMatch(afterAdd, /dave-password-1/);
    assert.equal(run(['users', 'add', '--user', 'dave', '--name', 'Again'], 'another-password\n').status, 2);
    assert.equal(run(['users', 'set-password', '--user', 'dave'], 'short\n').status, 2);
    assert.equal(run(['users', 'set-password', '--user', 'dave'], 'a-new-password\n').status, 0);
    const enrolled = run(['users', 'enroll-totp', '--user', 'dave']);
    assert.equal(enrolled.status, 0, enrolled.stderr);
    const secret = /secret=([A-Z2-7]{32})&/.exec(enrolled.stdout)?.[1] ?? assert.fail(enrolled.stdout);
    assert.match(readFileSync(file, 'utf8'), new RegExp(`totp_secret: ${secret}`));

    assert.equal(run(['clients', 'add', '--client', 'bot-2', '--secret-env', 'BOT_2_SECRET']).status, 2, 'the variable must be set');
    const bot = run(['clients', 'add', '--client', 'bot-2', '--secret-env', 'BOT_2_SECRET'], '', { BOT_2_SECRET: 'a-long-enough-secret' });
    assert.equal(bot.status, 0, bot.stderr);
    assert.match(readFileSync(file, 'utf8'), /client_secret: \$\{BOT_2_SECRET\}/);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /a-long-enough-secret/);
    // From now on the file names ${BOT_2_SECRET}: every later check needs it set, as the IdP will.
    assert.equal(
      run(['clients', 'add', '--client', 'cli-2', '--redirect-uri', 'http://127.0.0.1/callback'], '', {
        BOT_2_SECRET: 'a-long-enough-secret',
      }).status,
      0,
    );
    const clients = run(['clients', 'list', '--json'], '', { BOT_2_SECRET: 'a-long-enough-secret' });
    assert.deepEqual((JSON.parse(clients.stdout) as { client_id: string }[]).map((c) => c.client_id).slice(-2), ['bot-2', 'cli-2']);
    // A change that would make the file invalid is refused and leaves it as it was.
    const before = readFileSync(file, 'utf8');
    assert.equal(
      run(['clients', 'add', '--client', 'bad', '--redirect-uri', 'not-a-url'], '', { BOT_2_SECRET: 'a-long-enough-secret' }).status,
      2,
    );
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  it('keys list shows the published keys and which ones sign', () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-cli-keys-'));
    const result = spawnSync(process.execPath, [CLI, 'keys', 'list', '--config', DEMO, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, PALISADE_DATA: dir },
    });
    assert.equal(result.status, 0, result.stderr);
    const keys = JSON.parse(result.stdout) as { alg: string; signing: boolean }[];
    assert.deepEqual(keys.map((k) => [k.alg, k.signing]).sort(), [
      ['ES256', true],
      ['RS256', true],
    ]);
  });
});
