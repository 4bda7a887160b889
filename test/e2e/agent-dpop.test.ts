import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AutonomousAgent, connectToGateway, FileTokenStore, UserAgent } from '@palisade/agent';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { DEMO, WallClock } from '../helpers/idp.js';

const SCHEDULES = { type: 'tool_access', locations: [DEMO.tools.reports], actions: ['reports.schedules'] };

describe('the agent SDK with DPoP (RFC 9449, through oauth4webapi): both kinds of agent', () => {
  let domain: GatewayDomain;
  const dir = mkdtempSync(join(tmpdir(), 'palisade-agent-dpop-'));

  before(async () => {
    // oauth4webapi's proofs carry the real time: so does this IdP.
    domain = await startGatewayDomain({ clock: new WallClock() });
  });
  after(async () => {
    await domain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an autonomous agent with dpop: true gets bound tokens and calls the gateway; its token alone, as Bearer, is refused', async () => {
    const agent = new AutonomousAgent({
      issuer: domain.server.issuer,
      clientId: DEMO.opsBot.id,
      credentials: { clientSecret: DEMO.opsBot.secret },
      resource: domain.url,
      authorizationDetails: [SCHEDULES],
      dpop: true,
    });
    const client = await connectToGateway(domain.url, agent);
    const result = await client.callTool({ name: 'reports.schedules', arguments: {} });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    await client.close();
    const token = await agent.accessToken();
    const jkt = await (await agent.dpop())?.calculateThumbprint();
    assert.deepEqual(decodeJwt(token).cnf, { jkt });
    const stolen = await fetch(domain.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    assert.equal(stolen.status, 401);
    assert.match(stolen.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token"/);
  });

  it('a person’s agent with dpop: true: the code is bound through PAR, the key waits in the 0600 token file, refresh stays bound (another process too)', async () => {
    const path = join(dir, 'cli', 'tokens.json');
    const options = {
      issuer: domain.server.issuer,
      clientId: DEMO.cli.id,
      scope: 'openid tools.access offline_access',
      resource: domain.url,
      dpop: true,
      // bob signs in with a password only (no TOTP step to wait for).
      openBrowser: async (url: URL) => {
        const callback = await authorizeInBrowser(new ScriptedBrowser(domain.server.issuer), url, {
          ...DEMO.bob,
          now: domain.server.clock.now(),
        });
        await (await fetch(callback)).text();
      },
    };
    const agent = new UserAgent({ ...options, store: new FileTokenStore(path) });
    const stored = await agent.login();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const jkt = await calculateJwkThumbprint(stored.dpopKey?.publicJwk ?? assert.fail('no key stored'));
    assert.deepEqual(decodeJwt(stored.accessToken).cnf, { jkt });
    const client = await connectToGateway(domain.url, agent);
    assert.ok(Array.isArray((await client.listTools()).tools));
    await client.close();

    // A later run of the CLI: a new agent on the same file refreshes with the stored key.
    const later = new UserAgent({ ...options, store: new FileTokenStore(path) });
    const renewed = await later.accessToken({ renew: true });
    assert.notEqual(renewed, stored.accessToken);
    assert.deepEqual(decodeJwt(renewed).cnf, { jkt });
  });
});
