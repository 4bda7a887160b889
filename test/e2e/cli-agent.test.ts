import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StoredTokens } from '@palisade/agent';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { Q4 } from '../helpers/chain.js';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { DEMO } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));
const SCHEDULES = JSON.stringify([{ type: 'tool_access', locations: [DEMO.tools.reports], actions: ['reports.schedules'] }]);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('palisade agent: the agent SDK on the command line', () => {
  let domain: GatewayDomain;
  const home = mkdtempSync(join(tmpdir(), 'palisade-cli-agent-'));

  before(async () => {
    domain = await startGatewayDomain();
  });
  after(async () => {
    await domain?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** Runs the CLI; `onStderr` sees stderr as it comes (the login URL). */
  function palisade(args: string[], env: Record<string, string> = {}, onStderr?: (text: string) => void): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'agent', ...args], {
        env: {
          ...process.env,
          PALISADE_ISSUER: domain.server.issuer,
          PALISADE_GATEWAY: domain.url,
          PALISADE_AGENT_HOME: home,
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
        onStderr?.(stderr);
      });
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }

  const opsBot = { PALISADE_CLIENT_SECRET: DEMO.opsBot.secret };

  it('token --json: a client-credentials token for the gateway with exactly the requested detail', async () => {
    const run = await palisade(['token', '--client', DEMO.opsBot.id, '--details', SCHEDULES, '--json'], opsBot);
    assert.equal(run.code, 0, run.stderr);
    const claims = decodeJwt((JSON.parse(run.stdout) as { access_token: string }).access_token);
    assert.equal(claims.aud, domain.url);
    assert.deepEqual(claims.authorization_details, JSON.parse(SCHEDULES));
  });

  it('tools and call as ops-bot: human output by default, the full result with --json', async () => {
    const tools = await palisade(['tools', '--client', DEMO.opsBot.id, '--details', SCHEDULES], opsBot);
    assert.equal(tools.code, 0, tools.stderr);
    assert.match(tools.stdout, /^reports\.schedules\s+Lists when each recurring report is produced/);
    const called = await palisade(['call', 'reports.schedules', '--client', DEMO.opsBot.id, '--details', SCHEDULES, '--json'], opsBot);
    assert.equal(called.code, 0, called.stderr);
    const result = JSON.parse(called.stdout) as { structuredContent: { schedules: unknown[] } };
    assert.equal(result.structuredContent.schedules.length, 2);
  });

  it('login --dpop (PAR + PKCE in the browser) then call files.read as alice with DPoP proofs; the token file is 0600 and holds the key', async () => {
    let browsing: Promise<void> | undefined;
    // --open: no browser launcher on this PATH, so the printed URL is the way (and nothing breaks).
    const login = await palisade(['login', '--open', '--dpop', '--details', JSON.stringify([Q4])], { PATH: home }, (stderr) => {
      const url = /(http:\/\/\S+\/authorize\?\S+)/.exec(stderr)?.[1];
      if (!url || browsing) return;
      browsing = (async () => {
        domain.server.clock.advance(30);
        const callback = await authorizeInBrowser(new ScriptedBrowser(domain.server.issuer), url, {
          ...DEMO.alice,
          now: domain.server.clock.now(),
        });
        await (await fetch(callback)).text();
      })();
    });
    await browsing;
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stderr, /^Opening the browser to sign in; if nothing opens, visit:/);
    assert.match(login.stdout, /^Signed in\. Allowed: tools\.access offline_access; 1 authorization detail\(s\)\./);
    assert.equal(statSync(join(home, 'agent-tokens.json')).mode & 0o777, 0o600);
    const stored = JSON.parse(readFileSync(join(home, 'agent-tokens.json'), 'utf8')) as StoredTokens;
    const jkt = await calculateJwkThumbprint(stored.dpopKey?.publicJwk ?? assert.fail('no DPoP key stored'));
    assert.deepEqual(decodeJwt(stored.accessToken).cnf, { jkt });
    const read = await palisade(['call', 'files.read', '--arg', 'path=Q4-report.pdf']);
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, /^Q4 2026 financial report/);
  });

  it('failures: one clear line and a distinct exit code — usage 2, the server refusing 3, the tool refusing 1; no secret echoed', async () => {
    const noSecret = await palisade(['token', '--client', DEMO.opsBot.id]);
    assert.deepEqual(
      [noSecret.code, noSecret.stderr],
      [2, 'palisade: set PALISADE_CLIENT_SECRET to the client secret [misuse.no_secret]\n'],
    );
    const wrong = await palisade(['token', '--client', DEMO.opsBot.id, '--json'], { PALISADE_CLIENT_SECRET: 'wrong-secret-value' });
    assert.equal(wrong.code, 3);
    assert.equal((JSON.parse(wrong.stderr) as { error: string }).error, 'oauth.invalid_client');
    assert.doesNotMatch(wrong.stderr, /wrong-secret-value/);
    const badDetails = await palisade(['token', '--client', DEMO.opsBot.id, '--details', '{not json'], opsBot);
    assert.equal(badDetails.code, 2);
    const refusedTool = await palisade(
      ['call', 'reports.schedules', '--client', DEMO.opsBot.id, '--details', SCHEDULES, '--arg', 'x=1'],
      opsBot,
    );
    assert.equal(refusedTool.code, 1);
    assert.match(refusedTool.stderr, /palisade: reports\.schedules failed/);
    assert.equal(refusedTool.stderr.trim().split('\n').length, 1);
  });
});
