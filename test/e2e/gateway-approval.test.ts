import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { totpNow } from '../helpers/browser.js';
import { Device, type PendingView } from '../helpers/ciba.js';
import {
  type GatewayDomain,
  startGatewayDomain,
  TRANSFER_ARGS,
  TRANSFER_DETAIL,
  userGatewayToken,
  userTokens,
} from '../helpers/gateway.js';
import { DEMO } from '../helpers/idp.js';

const SMALL = { ...TRANSFER_ARGS, amount: '900.00' };
const SMALL_PAYMENT = { ...TRANSFER_DETAIL, instructedAmount: { currency: 'EUR', amount: '900.00' } };

type Result = { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> };

/** An MCP SDK client holding alice's gateway token. */
async function agent(domain: GatewayDomain, token: string): Promise<Client> {
  const client = new Client({ name: 'assistant', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(domain.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  );
  return client;
}

describe('sensitive calls wait for a person: CIBA from the gateway (ARCHITECTURE flow 4)', () => {
  for (const mode of ['ping', 'push'] as const) {
    describe(`${mode} mode, approved ${mode === 'ping' ? 'through the device API' : 'on the device page'}`, () => {
      let domain: GatewayDomain;
      let device: Device;
      let client: Client;
      let deviceToken = '';
      const bufferDir = mkdtempSync(join(tmpdir(), 'palisade-gw-approval-'));

      before(async () => {
        domain = await startGatewayDomain({ mode, wait: 600, audit: { bufferDir } });
        const token =
          (await userGatewayToken(domain, 'alice', [TRANSFER_DETAIL, SMALL_PAYMENT])).token ?? assert.fail('alice got no token');
        device = new Device(domain.server);
        await device.signIn('alice');
        // The same person's phone app: a token for the device API (audience <issuer>/device).
        deviceToken =
          (await userTokens(domain, 'alice', [], { resource: `${domain.server.issuer}/device`, scope: 'device.approve' })).token ??
          assert.fail('no device token');
        client = await agent(domain, token);
      });
      after(async () => {
        await client?.close();
        await domain?.close();
        rmSync(bufferDir, { recursive: true, force: true });
      });

      /** alice's requests, as a device app reads them through the JSON API (docs/ciba.md). */
      async function pendingViaApi(): Promise<PendingView[]> {
        for (let attempt = 0; attempt < 100; attempt++) {
          const response = await fetch(`${domain.server.issuer}/device/api/requests`, {
            headers: { authorization: `Bearer ${deviceToken}` },
          });
          const { requests } = (await response.json()) as { requests: PendingView[] };
          if (requests.length > 0) return requests;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return assert.fail('nothing reached the device API');
      }

      /**
       * Calls payments.transfer and answers the request that appears on
       * alice's device: through the device JSON API in ping mode (the app
       * relays her TOTP code), on the device page in push mode.
       */
      async function transfer(decide: 'approve' | 'deny'): Promise<{ result: Result; progress: string[]; shown: PendingView[] }> {
        const progress: string[] = [];
        const pending = client.callTool({ name: 'payments.transfer', arguments: TRANSFER_ARGS }, undefined, {
          onprogress: (p) => progress.push(p.message ?? ''),
          timeout: 60_000,
        });
        const shown = mode === 'ping' ? await pendingViaApi() : await device.pending();
        const request = shown[0] ?? assert.fail('nothing on the device');
        if (mode === 'ping') {
          domain.server.clock.advance(30);
          const code = await totpNow(DEMO.alice.totpSecret, domain.server.clock.now());
          const answer = await fetch(`${domain.server.issuer}/device/api/requests/${request.id}/${decide}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
            body: JSON.stringify(decide === 'approve' ? { code } : {}),
          });
          assert.deepEqual(await answer.json(), { status: decide === 'approve' ? 'approved' : 'denied' });
        } else if (decide === 'approve') await device.approve(request.id);
        else await device.deny(request.id);
        return { result: (await pending) as Result, progress, shown };
      }

      it('above EUR 10,000: alice sees exactly this payment on her device, approves with TOTP, and the transfer is made for her', async () => {
        const { result, progress, shown } = await transfer('approve');
        assert.equal(shown.length, 1);
        assert.equal(shown[0]?.binding_message, 'Pay EUR 25000.00 to Acme Supplies GmbH');
        assert.deepEqual(shown[0]?.client, { id: mode === 'ping' ? DEMO.mcpGateway.id : 'mcp-gateway-push', name: 'Palisade MCP gateway' });
        assert.equal(
          shown[0]?.headlines[0],
          'Palisade MCP gateway asks to make a payment of EUR 25000.00 to Acme Supplies GmbH (DE89370400440532013000)',
        );
        assert.match(shown[0]?.headlines[1] ?? '', /run payments\.transfer through the MCP gateway, once, with exactly these arguments/);
        assert.equal(result.isError, undefined, JSON.stringify(result));
        const made = result.structuredContent as { status: string; initiatedBy: string; actors: string[] };
        assert.equal(made.status, 'accepted');
        assert.equal(made.initiatedBy, 'alice');
        assert.ok(
          progress.some((message) => message.startsWith('waiting for alice to approve')),
          `progress: ${progress.join(' | ')}`,
        );
        const allowed = await domain.trail({ event: 'tool.call_allowed', sub: 'alice' });
        const entry = allowed.find((e) => e.component === 'gateway' && e.data?.operation === 'tools/call payments.transfer');
        assert.equal(entry?.data?.approval, 'amount above 10000.00');
        assert.equal(entry?.data?.status, 201);
        // One trace (ADR 0008, 0012): the gateway's CIBA request, alice's decision and the exchange for payments join the call's.
        const trace = entry?.trace_id ?? assert.fail('the decision names no trace');
        const events = (await domain.trail({ traceId: trace })).map((e) => `${e.component} ${e.event}`);
        for (const expected of ['idp ciba.requested', 'idp ciba.approved', 'idp token.exchanged', 'tool:payments tool.call_allowed'])
          assert.ok(events.includes(expected), `${expected} is not in the call's trace: ${events.join(', ')}`);
      });

      it('denied on the device: the tool is not called and the agent reads why (isError)', async () => {
        const { result } = await transfer('deny');
        assert.equal(result.isError, true);
        assert.match(result.content[0]?.text ?? '', /denied this call on their device/);
        const denied = await domain.trail({ event: 'tool.call_denied', sub: 'alice' });
        assert.ok(denied.some((e) => e.component === 'gateway' && e.reason === 'approval_denied'));
      });

      if (mode === 'ping') {
        it('below the threshold, with the exact payment granted at sign-in: no approval needed, the transfer is made', async () => {
          const result = (await client.callTool({ name: 'payments.transfer', arguments: SMALL })) as Result;
          assert.equal(result.isError, undefined, JSON.stringify(result));
          assert.equal((result.structuredContent as { status: string }).status, 'accepted');
        });

        it('another amount than the one granted: 403 before anyone is asked', async () => {
          await assert.rejects(
            client.callTool({ name: 'payments.transfer', arguments: { ...TRANSFER_ARGS, amount: '25000.01' } }),
            /403|insufficient_scope|Forbidden/i,
          );
        });
      }
    });
  }

  describe('nobody decides in time', () => {
    let domain: GatewayDomain;
    before(async () => {
      domain = await startGatewayDomain({ wait: 5 });
    });
    after(async () => {
      await domain?.close();
    });

    it('the call ends after the configured wait with a clear tool error', async () => {
      const token = (await userGatewayToken(domain, 'alice', [TRANSFER_DETAIL])).token ?? assert.fail('alice got no token');
      const client = await agent(domain, token);
      const result = (await client.callTool({ name: 'payments.transfer', arguments: TRANSFER_ARGS })) as Result;
      assert.equal(result.isError, true);
      assert.match(result.content[0]?.text ?? '', /nobody approved the call in time/);
      await client.close();
    });
  });
});
