import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ManualClock } from '@palisade/core';
import { createGateway, type Gateway, parseGatewayConfig } from '@palisade/gateway';
import { createIdp, type Idp, parseConfig } from '@palisade/idp';
import { PostgresStore } from '@palisade/store';
import { testDatabase } from '@palisade/store/testing/postgres';
import { parse as parseYaml } from 'yaml';
import { Q4 } from '../helpers/chain.js';
import { Device } from '../helpers/ciba.js';
import { GATEWAY_CONFIG, retarget, TRANSFER_ARGS, TRANSFER_DETAIL, userTokens } from '../helpers/gateway.js';
import { DEMO_CONFIG, freePort, reservePort } from '../helpers/idp.js';
import { startTestTools, type TestTools } from '../helpers/tools.js';

/**
 * The clustered deployment (issue 10, docs/deployment.md): two IdP nodes on
 * one PostgreSQL database and two MCP gateway nodes, each pair behind one
 * public address (node A's, standing in for the load balancer). Every flow
 * below lands its requests on alternating nodes.
 */
const { unavailable, url, schema, drop } = await testDatabase('palisade_cluster');

describe('two IdP nodes and two gateway nodes on one PostgreSQL database', { skip: unavailable }, () => {
  const clock = new ManualClock();
  const idps: { idp: Idp; store: PostgresStore; url: string }[] = [];
  const gateways: { gateway: Gateway; url: string }[] = [];
  let tools: TestTools;
  let issuer: string;
  let resource: string;

  before(async () => {
    const [idpA, idpB] = [await freePort(), await freePort()];
    const reserved = [await reservePort(), await reservePort()];
    const [gatewayA, gatewayB] = reserved.map((r) => r.port) as [number, number];
    issuer = `http://127.0.0.1:${idpA}`;
    resource = `http://127.0.0.1:${gatewayA}/mcp`;
    const document = retarget(
      parseYaml(readFileSync(DEMO_CONFIG, 'utf8')),
      'http://127.0.0.1:9401',
      `http://127.0.0.1:${gatewayA}`,
    ) as Record<string, unknown>;
    document.ciba = { interval: 1 };
    const config = parseConfig(document, 'cluster', { PALISADE_IDP_PORT: String(idpA) });
    for (const port of [idpA, idpB]) {
      const store = await PostgresStore.connect({ connectionString: url, options: `-c search_path=${schema}` }, { clock });
      const idp = await createIdp({ config, store, clock });
      await idp.listen({ host: '127.0.0.1', port });
      idps.push({ idp, store, url: `http://127.0.0.1:${port}` });
    }
    tools = await startTestTools(issuer, () => clock.now());
    const listening: Record<string, string> = { '9410': tools.files, '9411': tools.reports, '9412': tools.payments, '9413': tools.hr };
    const gatewayDocument = parseYaml(readFileSync(GATEWAY_CONFIG, 'utf8')) as { tools: { call: { url: string } }[]; approvals: object };
    for (const tool of gatewayDocument.tools)
      tool.call.url = tool.call.url.replace(/^http:\/\/127\.0\.0\.1:(941[0-3])/, (_m, p: string) => listening[p] ?? '');
    gatewayDocument.approvals = { ...gatewayDocument.approvals, wait: 60, progress_interval: 1 };
    const gatewayConfig = parseGatewayConfig(gatewayDocument, 'cluster gateway', {
      PALISADE_IDP_PORT: String(idpA),
      PALISADE_GATEWAY_PORT: String(gatewayA),
    });
    for (const [i, port] of [gatewayA, gatewayB].entries()) {
      const gateway = await createGateway(gatewayConfig, { now: () => clock.now(), port });
      await reserved[i]?.release();
      gateways.push({ gateway, url: await gateway.listen() });
    }
  });
  after(async () => {
    for (const { gateway } of gateways) await gateway.close();
    await tools?.close();
    for (const { idp, store } of idps) {
      await idp.close();
      await store.close();
    }
    await drop();
  });

  const idpNode = (i: number) => ({ issuer: idps[i % 2]?.url ?? assert.fail('no IdP node'), clock });
  const gatewayNode = (i: number) => gateways[i % 2]?.url ?? assert.fail('no gateway node');

  async function agent(gatewayUrl: string, token: string): Promise<Client> {
    const client = new Client({ name: 'palisade-cli', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(gatewayUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
    );
    return client;
  }

  it('alice’s agent pushes its request and redeems the code on IdP node B; it lists and calls on gateways A and B in turn', async () => {
    const { token, error } = await userTokens({ url: resource, server: idpNode(1) }, 'alice', [Q4], { browserAt: issuer });
    assert.equal(error, undefined);
    for (const [i, call] of [
      [0, { name: 'files.read', arguments: { path: 'Q4-report.pdf' } }],
      [1, { name: 'files.read', arguments: { path: 'Q4-report.pdf' } }],
      [2, { name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } }],
      [3, { name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } }],
    ] as const) {
      const client = await agent(gatewayNode(i), token ?? assert.fail('no token'));
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['files.read', 'reports.summarize']);
      const result = await client.callTool(call);
      assert.equal(result.isError, undefined, `${call.name} on gateway node ${i % 2}: ${JSON.stringify(result)}`);
      await client.close();
    }
  });

  it('a payment asked through gateway B, approved on a device talking to IdP node B, pinged to gateway A: completed on B', async () => {
    const { token } = await userTokens({ url: resource, server: idpNode(0) }, 'alice', [TRANSFER_DETAIL]);
    // The device talks to node B; the browser believes it is on the public address (node A's).
    const device = new Device(idpNode(1), issuer);
    await device.signIn('alice');
    const client = await agent(gatewayNode(1), token ?? assert.fail('no token'));
    const pending = client.callTool({ name: 'payments.transfer', arguments: TRANSFER_ARGS }, undefined, { timeout: 60_000 });
    const [shown] = await device.pending();
    assert.equal(shown?.binding_message, 'Pay EUR 25000.00 to Acme Supplies GmbH');
    await device.approve(shown?.id ?? assert.fail('nothing on the device'));
    const result = (await pending) as { isError?: boolean; structuredContent?: { status: string; initiatedBy: string } };
    assert.equal(result.isError, undefined, JSON.stringify(result));
    assert.deepEqual([result.structuredContent?.status, result.structuredContent?.initiatedBy], ['accepted', 'alice']);
    await client.close();
  });
});
