import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { Q4 } from '../helpers/chain.js';
import { type GatewayDomain, startGatewayDomain, userGatewayToken, userTokens } from '../helpers/gateway.js';
import { basic, field, post } from '../helpers/http.js';
import { DEMO } from '../helpers/idp.js';

const BUDGET = { ...Q4, identifier: 'budget-2027.xlsx' };

/** One JSON-RPC message to the gateway, as any MCP client sends it over Streamable HTTP. */
async function rpc(
  url: string,
  token: string | undefined,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

/** The JSON-RPC result of a response (JSON, or the last SSE `data:` line). */
async function resultOf(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('text/event-stream')
    ? (text
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .at(-1)
        ?.slice(6) ?? '{}')
    : text;
  const message = JSON.parse(json) as { result?: Record<string, unknown>; error?: unknown };
  return message.result ?? assert.fail(`no result: ${json}`);
}

describe('the gateway as an OAuth resource server (SECURITY M1, M2, M7–M10; ARCHITECTURE flow 6)', () => {
  let domain: GatewayDomain;
  let alice: string;
  let capture: Server;
  const seen: string[] = [];
  const proofs: string[] = [];
  let huge = false;
  const bufferDir = mkdtempSync(join(tmpdir(), 'palisade-gw-audit-'));

  before(async () => {
    // A stand-in for the files tool that records the credential it receives (SECURITY M9).
    capture = createServer((request, response) => {
      seen.push(request.headers.authorization ?? '');
      proofs.push(String(request.headers.dpop ?? ''));
      if (!huge) {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('captured');
        return;
      }
      // A chunked answer with no length to check first, far over the 1 MiB the gateway reads.
      response.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 64 && response.write(chunk)) sent++;
        if (sent < 64) response.once('drain', more);
        else response.end();
      };
      response.on('error', () => undefined);
      more();
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    const port = (capture.address() as { port: number }).port;
    domain = await startGatewayDomain({ audit: { bufferDir }, toolUrls: { '9410': `http://127.0.0.1:${port}` } });
    alice = (await userGatewayToken(domain, 'alice', [Q4])).token ?? assert.fail('alice got no token');
  });
  after(async () => {
    await domain?.close();
    capture?.close();
    rmSync(bufferDir, { recursive: true, force: true });
  });

  it('M1: no token → 401 with the metadata URL and the scope; RFC 9728 metadata at the path-inserted and root URIs', async () => {
    const response = await rpc(domain.url, undefined, 'tools/list', {});
    assert.equal(response.status, 401);
    const metadataUrl = `${new URL(domain.url).origin}/.well-known/oauth-protected-resource/mcp`;
    // RFC 9449 §7.1: Bearer first (what MCP clients read), then DPoP with the proof algorithms.
    const params = `resource_metadata="${metadataUrl}", scope="tools.access"`;
    assert.equal(response.headers.get('www-authenticate'), `Bearer ${params}, DPoP ${params}, algs="ES256 ES384 EdDSA RS256 PS256"`);
    for (const url of [metadataUrl, `${new URL(domain.url).origin}/.well-known/oauth-protected-resource`]) {
      const metadata = (await (await fetch(url)).json()) as Record<string, unknown>;
      assert.equal(metadata.resource, domain.url);
      assert.deepEqual(metadata.authorization_servers, [domain.server.issuer]);
      assert.deepEqual(metadata.scopes_supported, ['tools.access']);
      assert.deepEqual(metadata.authorization_details_types_supported, ['file_access', 'tool_access', 'payment_initiation', 'tool_call']);
    }
  });

  it('M2: a token for another audience is refused at the gateway (401 invalid_token), and the gateway token at a tool', async () => {
    const gatewayClient = basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    const forAudit = field(
      await post(
        `${domain.server.issuer}/token`,
        { grant_type: 'client_credentials', resource: `${domain.server.issuer}/audit` },
        gatewayClient,
      ),
      'access_token',
    );
    const response = await rpc(domain.url, forAudit, 'tools/list', {});
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const atTool = await fetch(`${domain.tools.reports}/summaries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
      body: JSON.stringify({ folder: 'finance', name: 'Q4-report.pdf' }),
    });
    assert.equal(atTool.status, 401);
    assert.equal(((await atTool.json()) as { error: string }).error, 'invalid_token');
  });

  it('M7: a call outside the granted details → 403 insufficient_scope naming the exact detail needed, audited with the reason', async () => {
    const response = await rpc(domain.url, alice, 'tools/call', { name: 'files.read', arguments: { path: 'budget-2027.xlsx' } });
    assert.equal(response.status, 403);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    const body = (await response.json()) as { error: string; authorization_details: unknown };
    assert.equal(body.error, 'insufficient_scope');
    assert.deepEqual(body.authorization_details, [BUDGET]);
    const denied = await domain.trail({ event: 'tool.call_denied', sub: 'alice' });
    const entry = denied.find((e) => e.component === 'gateway') ?? assert.fail('the refusal was not audited by the gateway');
    assert.equal(entry.reason, 'insufficient_scope');
    assert.deepEqual(entry.authorization_details, [BUDGET]);
    assert.equal(entry.data?.operation, 'tools/call files.read');
  });

  it('flow 6: bob is refused finance files at consent policy, and with a token of his own at the cover check (403)', async () => {
    const refused = await userGatewayToken(domain, 'bob', [Q4]);
    assert.equal(refused.token, undefined);
    assert.ok(refused.error);
    const bob = (await userGatewayToken(domain, 'bob', [])).token ?? assert.fail('bob got no token');
    const listed = await resultOf(await rpc(domain.url, bob, 'tools/list', {}));
    assert.deepEqual(listed.tools, []);
    const response = await rpc(domain.url, bob, 'tools/call', { name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(response.status, 403);
    assert.deepEqual(((await response.json()) as { authorization_details: unknown }).authorization_details, [Q4]);
  });

  it("the IdP accepts the gateway's resource at the authorization, token and refresh endpoints (RFC 8707)", async () => {
    const { token, refreshToken } = await userTokens(domain, 'alice', [Q4], { scope: 'tools.access offline_access' });
    assert.equal(decodeJwt(token ?? '').aud, domain.url);
    const refreshed = await post(`${domain.server.issuer}/token`, {
      grant_type: 'refresh_token',
      client_id: DEMO.cli.id,
      refresh_token: refreshToken ?? assert.fail('no refresh token'),
      resource: domain.url,
    });
    assert.equal(refreshed.status, 200);
    const again = field(refreshed, 'access_token');
    assert.equal(decodeJwt(again).aud, domain.url);
    assert.equal((await rpc(domain.url, again, 'tools/list', {})).status, 200);
  });

  it('M8: a token in the query string or the body is refused', async () => {
    const inQuery = await rpc(`${domain.url}?access_token=${alice}`, undefined, 'tools/list', {});
    assert.equal(inQuery.status, 400);
    assert.equal(((await inQuery.json()) as { error: string }).error, 'invalid_request');
    const inForm = await fetch(domain.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: alice }),
    });
    assert.equal(inForm.status, 401);
  });

  it('M9: the tool receives a token exchanged for its own audience, narrowed to the call, with the gateway as actor — never the caller’s', async () => {
    seen.length = 0;
    proofs.length = 0;
    const response = await rpc(domain.url, alice, 'tools/call', { name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(response.status, 200);
    const result = await resultOf(response);
    assert.equal(result.isError, undefined);
    assert.equal(seen.length, 1);
    // The gateway's tokens are bound to its own key (RFC 9449): DPoP scheme, with a proof for exactly this call.
    assert.match(seen[0] ?? '', /^DPoP /);
    const received = seen[0]?.replace(/^DPoP /, '') ?? '';
    const proof = decodeJwt(proofs[0] ?? '');
    assert.deepEqual(
      [proof.htm, proof.htu],
      ['GET', `http://127.0.0.1:${(capture.address() as { port: number }).port}/finance/Q4-report.pdf`],
    );
    assert.equal((decodeJwt(received).cnf as { jkt?: string } | undefined)?.jkt?.length, 43);
    assert.notEqual(received, alice);
    const claims = decodeJwt(received);
    assert.equal(claims.aud, DEMO.tools.files);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: DEMO.mcpGateway.id, act: { sub: DEMO.cli.id } });
    assert.deepEqual(claims.authorization_details, [Q4]);
  });

  it('exchanged tokens are cached per subject token, audience and detail: a second identical call costs no exchange', async () => {
    await rpc(domain.url, alice, 'tools/call', { name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    seen.length = 0;
    const before = (await domain.trail({ event: 'token.exchanged' })).length;
    await resultOf(await rpc(domain.url, alice, 'tools/call', { name: 'files.read', arguments: { path: 'Q4-report.pdf' } }));
    assert.equal((await domain.trail({ event: 'token.exchanged' })).length, before);
    assert.equal(seen.length, 1);
  });

  it('a tool answering more than 1 MiB: the gateway stops reading, the agent gets a tool error, the trail says too_large', async () => {
    huge = true;
    try {
      const result = await resultOf(
        await rpc(domain.url, alice, 'tools/call', { name: 'files.read', arguments: { path: 'Q4-report.pdf' } }),
      );
      assert.equal(result.isError, true);
      assert.match(JSON.stringify(result.content), /larger than 1 MiB/);
    } finally {
      huge = false;
    }
    const allowed = await domain.trail({ event: 'tool.call_allowed', sub: 'alice' });
    assert.ok(allowed.some((e) => e.component === 'gateway' && e.data?.error === 'too_large'));
  });

  it('M10: an MCP session id is never a credential — the gateway keeps no sessions and refuses any it is shown', async () => {
    const response = await rpc(domain.url, alice, 'tools/list', {}, { 'mcp-session-id': 'a-session-of-someone-else' });
    assert.equal(response.status, 404);
    const withoutToken = await rpc(domain.url, undefined, 'tools/list', {}, { 'mcp-session-id': 'a-session-of-someone-else' });
    assert.equal(withoutToken.status, 401);
  });

  it('a page on another origin cannot drive the gateway with a token it holds (403, DNS rebinding)', async () => {
    const response = await rpc(domain.url, alice, 'tools/list', {}, { origin: 'http://evil.example' });
    assert.equal(response.status, 403);
  });

  it('operations: /healthz, /readyz (the IdP answers), /metrics with tool-call outcomes; none needs or shows a token', async () => {
    const origin = new URL(domain.url).origin;
    assert.deepEqual(await (await fetch(`${origin}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${origin}/readyz`);
    assert.deepEqual([ready.status, await ready.json()], [200, { status: 'ready', idp: true }]);
    const metrics = await (await fetch(`${origin}/metrics`)).text();
    assert.match(metrics, /palisade_gateway_tool_calls_total\{tool="files.read",outcome="allowed"\} [1-9]/);
    assert.match(metrics, /palisade_gateway_tool_calls_total\{tool="files.read",outcome="insufficient_scope"\} [1-9]/);
    assert.match(metrics, /palisade_gateway_http_requests_total\{route="\/mcp",method="POST",status="200"\} [1-9]/);
    assert.match(metrics, /palisade_gateway_approvals_waiting 0/);
    assert.doesNotMatch(metrics, /eyJ/);
  });
});
