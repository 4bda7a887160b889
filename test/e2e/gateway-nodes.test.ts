import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createGateway, type Gateway } from '@palisade/gateway';
import { Device } from '../helpers/ciba.js';
import { type GatewayDomain, startGatewayDomain, TRANSFER_ARGS, TRANSFER_DETAIL, userGatewayToken } from '../helpers/gateway.js';

async function agentOn(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'assistant', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  return client;
}

describe('two gateway nodes behind one canonical URI (issue 10: gateway nodes)', () => {
  let domain: GatewayDomain;
  let second: Gateway;
  let secondUrl: string;
  let token: string;

  before(async () => {
    domain = await startGatewayDomain({ wait: 120 });
    // Node B: same configuration and identity, another process's worth of state (none shared), another port.
    second = await createGateway(domain.config, { now: () => domain.server.clock.now(), port: 0 });
    secondUrl = await second.listen();
    token = (await userGatewayToken(domain, 'alice', [TRANSFER_DETAIL])).token ?? assert.fail('alice got no token');
  });
  after(async () => {
    await second?.close();
    await domain?.close();
  });

  it('no sessions: one token works on either node, request by request', async () => {
    for (const url of [domain.url, secondUrl, domain.url]) {
      const client = await agentOn(url, token);
      assert.deepEqual(
        (await client.listTools()).tools.map((t) => t.name),
        ['payments.transfer'],
      );
      await client.close();
    }
  });

  it('an approval asked by node B completes although the IdP pings node A (the registered endpoint): B polls', async () => {
    const device = new Device(domain.server);
    await device.signIn('alice');
    const client = await agentOn(secondUrl, token);
    const pending = client.callTool({ name: 'payments.transfer', arguments: TRANSFER_ARGS }, undefined, { timeout: 60_000 });
    const [shown] = await device.pending();
    await device.approve(shown?.id ?? assert.fail('nothing on the device'));
    const result = (await pending) as { isError?: boolean; structuredContent?: { status: string; initiatedBy: string } };
    assert.equal(result.isError, undefined, JSON.stringify(result));
    assert.deepEqual([result.structuredContent?.status, result.structuredContent?.initiatedBy], ['accepted', 'alice']);
    await client.close();
    // Node A refused the ping it could not place (401): the IdP recorded that one attempt, and did not retry a 4xx.
    await domain.server.idp.context.audit.flush();
    const attempts = (await domain.server.idp.context.store.readAudit({ event: 'ciba.notification_sent' })).map(
      (row) => JSON.parse(row.entry) as { outcome: string; reason?: string },
    );
    assert.deepEqual(
      attempts.map((a) => [a.outcome, a.reason]),
      [['failure', 'http_401']],
    );
  });
});
