import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Q4 } from '../helpers/chain.js';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { DEMO } from '../helpers/idp.js';
import { ScriptedLoginProvider } from '../helpers/mcp.js';

type Content = { type: string; text?: string; resource?: { uri: string; text?: string; mimeType?: string } };

/** The ops-bot's client credentials, asking for exactly one tool action (the SDK provider's own extension point). */
class OpsBotProvider extends ClientCredentialsProvider {
  override prepareTokenRequest(scope?: string): URLSearchParams {
    const params = super.prepareTokenRequest(scope);
    params.set(
      'authorization_details',
      JSON.stringify([{ type: 'tool_access', locations: [DEMO.tools.reports], actions: ['reports.schedules'] }]),
    );
    return params;
  }
}

describe('the MCP gateway with the official MCP SDK clients (discovery, OAuth, tools/list, tools/call)', () => {
  let domain: GatewayDomain;
  before(async () => {
    domain = await startGatewayDomain();
  });
  after(async () => {
    await domain?.close();
  });

  const aliceLogin = () => {
    domain.server.clock.advance(30);
    return { ...DEMO.alice, now: domain.server.clock.now() };
  };

  it('SDK 1.32: 401 → metadata discovery → code + PKCE with resource → alice signs in → lists her tools and reads Q4-report.pdf', async () => {
    const provider = new ScriptedLoginProvider(domain.server.issuer, aliceLogin, [Q4]);
    const first = new Client({ name: 'palisade-test', version: '1.0.0' });
    await assert.rejects(
      first.connect(new StreamableHTTPClientTransport(new URL(domain.url), { authProvider: provider })),
      UnauthorizedError,
    );
    // What the stock SDK asked for on its own, from the gateway's 401 and metadata.
    const asked = provider.sdkUrl ?? assert.fail('the SDK never sent the user to the IdP');
    assert.equal(asked.origin, domain.server.issuer);
    assert.equal(asked.searchParams.get('resource'), domain.url);
    assert.equal(asked.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(asked.searchParams.get('scope'), 'tools.access');
    const transport = new StreamableHTTPClientTransport(new URL(domain.url), { authProvider: provider });
    await transport.finishAuth(provider.code);
    const client = new Client({ name: 'palisade-test', version: '1.0.0' });
    await client.connect(transport);
    assert.equal(transport.protocolVersion, '2025-11-25');
    const { tools } = await client.listTools();
    // Only what her token (one read of Q4-report.pdf) could ever allow.
    assert.deepEqual(tools.map((t) => t.name).sort(), ['files.read', 'reports.summarize']);
    assert.equal(tools.find((t) => t.name === 'files.read')?.annotations?.readOnlyHint, true);
    const result = await client.callTool({ name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(result.isError, undefined);
    const [content] = result.content as Content[];
    assert.equal(content?.type, 'resource');
    assert.equal(content?.resource?.uri.endsWith('/finance/Q4-report.pdf'), true);
    assert.equal(content?.resource?.mimeType, 'text/plain');
    assert.match(content?.resource?.text ?? '', /^Q4 2026 financial report/);
    await client.close();
  });

  it('SDK 2.x client, protocol 2026-07-28 and the 2025-11-25 fallback: the same sign-in, then a summary through reports (act chain)', async () => {
    const provider = new ScriptedLoginProvider(domain.server.issuer, aliceLogin, [Q4]);
    await assert.rejects(
      new ClientV2({ name: 'palisade-test', version: '2.0.0' }).connect(new TransportV2(new URL(domain.url), { authProvider: provider })),
    );
    const transport = new TransportV2(new URL(domain.url), { authProvider: provider });
    // RFC 9207: the 2.x SDK checks the callback's `iss` before redeeming the code.
    await transport.finishAuth(provider.callback);
    for (const options of [{ versionNegotiation: { mode: { pin: '2026-07-28' } } }, {}] as const) {
      const client = new ClientV2({ name: 'palisade-test', version: '2.0.0' }, options);
      await client.connect(new TransportV2(new URL(domain.url), { authProvider: provider }));
      const result = await client.callTool({ name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      const summary = result.structuredContent as { summary: string; readAs: { subject: string; actors: string[] } };
      assert.match(summary.summary, /Q4 2026 financial report/);
      // The files tool saw alice, through reports, through the gateway, through her agent: each hop exchanged (RFC 8693 act).
      assert.deepEqual(summary.readAs, { subject: 'alice', actors: [DEMO.reportService.id, DEMO.mcpGateway.id, DEMO.cli.id] });
      await client.close();
    }
  });

  it('SDK 2.x negotiates 2026-07-28 when pinned; SDK 1.32 and raw 2025-06-18 initialize are served too', async () => {
    const response = await fetch(domain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    });
    assert.equal(response.status, 401);
    // The protocol revision is answered as asked, with a token (here ops-bot's).
    const provider = new OpsBotProvider({
      clientId: DEMO.opsBot.id,
      clientSecret: DEMO.opsBot.secret,
      expectedIssuer: domain.server.issuer,
    });
    const client = new ClientV2({ name: 'palisade-test', version: '2.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    const transport = new TransportV2(new URL(domain.url), { authProvider: provider });
    await client.connect(transport);
    assert.equal(client.getNegotiatedProtocolVersion?.() ?? transport.protocolVersion, '2026-07-28');
    await client.close();
    const token = provider.tokens()?.access_token ?? assert.fail('no token');
    const initialize = await fetch(domain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    assert.equal(initialize.status, 200);
    const text = await initialize.text();
    assert.match(text, /"protocolVersion":"2025-06-18"/);
  });

  it('ops-bot with the SDK ClientCredentialsProvider: an autonomous call with exactly one tool action', async () => {
    const provider = new OpsBotProvider({
      clientId: DEMO.opsBot.id,
      clientSecret: DEMO.opsBot.secret,
      expectedIssuer: domain.server.issuer,
    });
    const client = new Client({ name: 'ops-bot', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(domain.url), { authProvider: provider }));
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ['reports.schedules'],
    );
    const result = await client.callTool({ name: 'reports.schedules', arguments: {} });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    const { schedules } = result.structuredContent as { schedules: { report: string }[] };
    assert.deepEqual(
      schedules.map((s) => s.report),
      ['Q4-report.pdf', 'budget-2027.xlsx'],
    );
    await client.close();
  });
});
