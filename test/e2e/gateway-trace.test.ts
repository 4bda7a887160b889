import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Q4 } from '../helpers/chain.js';
import { type GatewayDomain, startGatewayDomain, userGatewayToken } from '../helpers/gateway.js';
import { DEMO } from '../helpers/idp.js';

describe('one trace across every hop: agent → MCP gateway → reports → files (issue 9, ARCHITECTURE flow 3)', () => {
  let domain: GatewayDomain;
  const bufferDir = mkdtempSync(join(tmpdir(), 'palisade-gw-trace-'));
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const logs: string[] = [];

  before(async () => {
    domain = await startGatewayDomain({
      audit: { bufferDir },
      gatewayLogger: { level: 'info', stream: { write: (line: string) => void logs.push(line) } },
    });
  });
  after(async () => {
    await domain?.close();
    rmSync(bufferDir, { recursive: true, force: true });
  });

  it('every component records its decision under the agent’s trace id, each hop naming the whole act chain', async () => {
    const token = (await userGatewayToken(domain, 'alice', [Q4])).token ?? assert.fail('alice got no token');
    const client = new Client({ name: 'palisade-cli', version: '1.0.0' });
    const headers = { authorization: `Bearer ${token}`, traceparent: `00-${trace}-00f067aa0ba902b7-01` };
    await client.connect(new StreamableHTTPClientTransport(new URL(domain.url), { requestInit: { headers } }));
    const result = await client.callTool({ name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    await client.close();

    const events = (await domain.trail({ traceId: trace })).sort((a, b) => a.time.localeCompare(b.time));
    const hops = events.filter((e) => e.event !== 'token.issued').map((e) => [e.component, e.event, e.client]);
    // The IdP's exchanges in order; the decisions other processes report arrive in any order (their clocks race).
    assert.deepEqual(
      hops.filter(([component]) => component === 'idp'),
      [
        ['idp', 'token.exchanged', DEMO.mcpGateway.id],
        ['idp', 'token.exchanged', DEMO.reportService.id],
      ],
    );
    assert.deepEqual(
      hops
        .filter(([component]) => component !== 'idp')
        .map((hop) => hop.join(' '))
        .sort(),
      [
        `gateway tool.call_allowed ${DEMO.cli.id}`,
        `tool:files tool.call_allowed ${DEMO.reportService.id}`,
        `tool:reports tool.call_allowed ${DEMO.mcpGateway.id}`,
      ],
    );
    const byComponent = Object.fromEntries(events.filter((e) => e.event === 'tool.call_allowed').map((e) => [e.component, e]));
    assert.ok(events.every((e) => e.event === 'token.issued' || e.sub === 'alice'));
    assert.deepEqual(byComponent.gateway?.act, undefined, 'the agent called the gateway itself, on its own token');
    assert.equal(byComponent.gateway?.data?.operation, 'tools/call reports.summarize');
    assert.deepEqual(byComponent['tool:reports']?.act, { sub: DEMO.mcpGateway.id, act: { sub: DEMO.cli.id } });
    assert.deepEqual(byComponent['tool:files']?.act, {
      sub: DEMO.reportService.id,
      act: { sub: DEMO.mcpGateway.id, act: { sub: DEMO.cli.id } },
    });
    assert.equal(byComponent.gateway?.reporter, DEMO.mcpGateway.id);
    // The gateway's log: structured JSON, each request line with the trace id, the decision named; no token anywhere.
    const lines = logs.map((line) => JSON.parse(line) as { trace_id?: string; msg: string; operation?: string; outcome?: string });
    assert.ok(
      lines.some(
        (l) => l.msg === 'tool call' && l.trace_id === trace && l.operation === 'tools/call reports.summarize' && l.outcome === 'success',
      ),
    );
    assert.ok(lines.some((l) => l.msg === 'request completed' && l.trace_id === trace));
    assert.doesNotMatch(logs.join(''), /eyJ|Bearer /);
  });

  it('flow 5: a legacy tool gets a SAML assertion made from alice’s token; its own rule (own record only) still applies', async () => {
    const detail = { type: 'tool_access', locations: [DEMO.tools.hr], actions: ['hr.employee'] };
    const token = (await userGatewayToken(domain, 'alice', [detail])).token ?? assert.fail('alice got no token');
    const client = new Client({ name: 'palisade-cli', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(domain.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    const own = await client.callTool({ name: 'hr.employee', arguments: { username: 'alice' } });
    assert.equal(own.isError, undefined, JSON.stringify(own));
    assert.equal((own.structuredContent as { username: string }).username, 'alice');
    const other = await client.callTool({ name: 'hr.employee', arguments: { username: 'bob' } });
    assert.equal(other.isError, true);
    assert.match((other.content as { text: string }[])[0]?.text ?? '', /403 forbidden/);
    await client.close();
    const hr = await domain.trail({ event: 'tool.call_allowed', sub: 'alice' });
    assert.ok(hr.some((e) => e.component === 'tool:hr' && e.data?.credential === 'saml2'));
  });
});
