import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApprovalDenied,
  AutonomousAgent,
  connectToGateway,
  FileTokenStore,
  Issuer,
  MisuseError,
  ProtocolError,
  requestApproval,
  ServerOAuthError,
  UserAgent,
} from '@palisade/agent';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { Q4 } from '../helpers/chain.js';
import { Device } from '../helpers/ciba.js';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { DEMO, freePort } from '../helpers/idp.js';

const BUDGET = { ...Q4, identifier: 'budget-2027.xlsx' };
const SCHEDULES = { type: 'tool_access', locations: [DEMO.tools.reports], actions: ['reports.schedules'] };

describe('the agent SDK (@palisade/agent) against the demo domain', () => {
  let domain: GatewayDomain;
  const dir = mkdtempSync(join(tmpdir(), 'palisade-agent-'));

  let agentKey: CryptoKey;
  /** Where this test's ping and push approvers listen (their registered notification endpoints). */
  const ports = { ping: 0, push: 0 };

  before(async () => {
    ports.ping = await freePort();
    ports.push = await freePort();
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    agentKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig', kid: 'agent-key-1' };
    domain = await startGatewayDomain({
      mutateIdp(document) {
        // An autonomous agent that holds a key instead of a secret (RFC 7523).
        document.clients.push({
          client_id: 'key-bot',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [jwk] },
          grant_types: ['client_credentials'],
          authorization_details_types: ['tool_access'],
          scopes: ['tools.access'],
          default_scopes: ['tools.access'],
          resources: ['http://127.0.0.1:9401/mcp'],
        });
        for (const mode of ['ping', 'push'] as const) {
          document.clients.push({
            client_id: `approver-${mode}`,
            client_secret: `approver-${mode}-secret`,
            token_endpoint_auth_method: 'client_secret_basic',
            grant_types: ['urn:openid:params:grant-type:ciba'],
            backchannel_token_delivery_mode: mode,
            backchannel_client_notification_endpoint: `http://127.0.0.1:${ports[mode]}/ciba`,
            scopes: ['openid'],
          });
        }
      },
    });
  });
  after(async () => {
    await domain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The person at the browser: alice signs in (TOTP) and consents; the browser then follows the redirect to the agent's loopback port. */
  const aliceAtTheBrowser = (seen: URL[] = []) => {
    return async (url: URL) => {
      seen.push(url);
      domain.server.clock.advance(30);
      const callback = await authorizeInBrowser(new ScriptedBrowser(domain.server.issuer), url, {
        ...DEMO.alice,
        now: domain.server.clock.now(),
      });
      await (await fetch(callback)).text();
    };
  };

  it('an autonomous agent (client credentials with one tool action) calls the gateway through the official MCP client', async () => {
    const agent = new AutonomousAgent({
      issuer: domain.server.issuer,
      clientId: DEMO.opsBot.id,
      credentials: { clientSecret: DEMO.opsBot.secret },
      resource: domain.url,
      authorizationDetails: [SCHEDULES],
    });
    const client = await connectToGateway(domain.url, agent);
    const result = await client.callTool({ name: 'reports.schedules', arguments: {} });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    await client.close();
    // Cached until shortly before expiry: the same token for the next call.
    assert.equal(await agent.accessToken(), await agent.accessToken());
  });

  it('an autonomous agent with private_key_jwt (RFC 7523) instead of a secret', async () => {
    const agent = new AutonomousAgent({
      issuer: domain.server.issuer,
      clientId: 'key-bot',
      credentials: { privateKey: agentKey, kid: 'agent-key-1' },
      resource: domain.url,
      authorizationDetails: [SCHEDULES],
    });
    const client = await connectToGateway(domain.url, agent);
    const result = await client.callTool({ name: 'reports.schedules', arguments: {} });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    await client.close();
  });

  it('a person’s agent: PAR + PKCE + RAR through the browser, tokens in a 0600 file, refresh rotates, step-up on a 403', async () => {
    const seen: URL[] = [];
    const store = new FileTokenStore(join(dir, 'agent', 'tokens.json'));
    const agent = new UserAgent({
      issuer: domain.server.issuer,
      clientId: DEMO.cli.id,
      scope: 'tools.access offline_access',
      resource: domain.url,
      authorizationDetails: [Q4],
      store,
      openBrowser: aliceAtTheBrowser(seen),
    });
    await agent.login();
    // The front channel carried only the PAR handle.
    assert.deepEqual([...(seen[0]?.searchParams.keys() ?? [])].sort(), ['client_id', 'request_uri']);
    assert.equal(statSync(store.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'agent')).mode & 0o777, 0o700);
    const first = await store.load();
    assert.deepEqual(first?.authorizationDetails, [Q4]);

    const client = await connectToGateway(domain.url, agent);
    const read = await client.callTool({ name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(read.isError, undefined, JSON.stringify(read));

    // The gateway names what reading budget-2027.xlsx needs; alice is asked again, for both files, and the call goes through.
    const stepped = await client.callTool({ name: 'files.read', arguments: { path: 'budget-2027.xlsx' } });
    assert.equal(stepped.isError, undefined, JSON.stringify(stepped));
    assert.equal(seen.length, 2);
    assert.deepEqual((await store.load())?.authorizationDetails, [Q4, BUDGET]);
    await client.close();

    // Refresh (RFC 6749 §6) with rotation: a new refresh token each time, the old one gone.
    const before = await store.load();
    await agent.accessToken({ renew: true });
    const after = await store.load();
    assert.notEqual(after?.refreshToken, before?.refreshToken);
    assert.notEqual(after?.accessToken, before?.accessToken);
    // Two callers renewing at once share one refresh: a second use of the rotated token would revoke the whole family.
    const [one, two] = await Promise.all([agent.accessToken({ renew: true }), agent.accessToken({ renew: true })]);
    assert.equal(one, two);
    assert.equal(typeof (await agent.accessToken({ renew: true })), 'string', 'the family is still alive');
  });

  it('approvals: requestApproval (CIBA poll) reports progress and returns tokens, or ApprovalDenied with a stable code', async () => {
    const device = new Device(domain.server);
    await device.signIn('alice');
    const ask = (bindingMessage: string, progress: string[]) =>
      requestApproval({
        issuer: domain.server.issuer,
        clientId: DEMO.assistant.id,
        credentials: { clientSecret: DEMO.assistant.secret },
        user: 'alice',
        bindingMessage,
        onProgress: (message) => progress.push(message),
      });
    const progress: string[] = [];
    const approved = ask('Report 42', progress);
    const [shown] = await device.pending();
    assert.equal(shown?.binding_message, 'Report 42');
    await device.approve(shown?.id ?? assert.fail());
    const tokens = await approved;
    assert.equal(typeof tokens.access_token, 'string');
    assert.match(progress[0] ?? '', /^Waiting for confirmation on alice's device…/);

    const denied = ask('Report 43', []);
    const [again] = await device.pending();
    await device.deny(again?.id ?? assert.fail());
    await assert.rejects(denied, (error: unknown) => error instanceof ApprovalDenied && error.code === 'oauth.access_denied');
  });

  for (const mode of ['ping', 'push'] as const) {
    it(`approvals in ${mode} mode: the SDK listens on the registered endpoint and ${mode === 'ping' ? 'redeems when pinged' : 'checks the pushed ID token'}`, async () => {
      const device = new Device(domain.server);
      await device.signIn('alice');
      const approved = requestApproval({
        issuer: domain.server.issuer,
        clientId: `approver-${mode}`,
        credentials: { clientSecret: `approver-${mode}-secret` },
        user: 'alice',
        bindingMessage: `Report ${mode}`,
        mode,
        notificationEndpoint: { host: '127.0.0.1', port: ports[mode], path: '/ciba' },
      });
      const [shown] = await device.pending();
      assert.equal(shown?.binding_message, `Report ${mode}`);
      await device.approve(shown?.id ?? assert.fail());
      const tokens = await approved;
      assert.equal(decodeJwt(tokens.access_token).sub, 'alice');
    });
  }

  it('errors come in three families with stable codes: misuse, protocol, the server’s OAuth error', async () => {
    await assert.rejects(
      Issuer.discover('http://idp.example.com'),
      (e: unknown) => e instanceof MisuseError && e.code === 'misuse.insecure_issuer',
    );
    await assert.rejects(
      new UserAgent({ issuer: domain.server.issuer, clientId: DEMO.cli.id }).accessToken(),
      (e: unknown) => e instanceof MisuseError && e.code === 'misuse.not_logged_in',
    );
    const wrongSecret = new AutonomousAgent({
      issuer: domain.server.issuer,
      clientId: DEMO.opsBot.id,
      credentials: { clientSecret: 'not-the-secret' },
    });
    await assert.rejects(
      wrongSecret.accessToken(),
      (e: unknown) => e instanceof ServerOAuthError && e.code === 'oauth.invalid_client' && e.status === 401,
    );
    // A server whose metadata names another issuer (RFC 8414 §3.3): the SDK refuses to talk to it.
    const impostor = createServer((_request, response) => {
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ issuer: 'http://127.0.0.1:1', token_endpoint: 'http://127.0.0.1:1/token' }));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`;
      await assert.rejects(Issuer.discover(url), (e: unknown) => e instanceof ProtocolError && e.code.startsWith('protocol.'));
    } finally {
      impostor.close();
    }
  });
});
