import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@palisade/core';
import { testDatabase } from '@palisade/store/testing/postgres';
import { parse as parseYaml, stringify } from 'yaml';
import { backchannelRequest, CIBA, Device, NotificationReceiver, type Received, redeem } from '../helpers/ciba.js';
import { expectError, field } from '../helpers/http.js';
import { DEMO_CONFIG, freePort } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));
const { unavailable, url, schema, drop } = await testDatabase('palisade_kill');

/**
 * Two `palisade idp` processes on one PostgreSQL database (issue 10): the
 * node that took a CIBA request is killed with SIGKILL while the agent
 * waits, and the flow completes on the other node, expiry included.
 */
describe('a node SIGKILLed in the middle of a CIBA wait: the other node finishes the flow', { skip: unavailable }, () => {
  const receiver = new NotificationReceiver();
  const nodes: ChildProcess[] = [];
  let issuer: string;
  let nodeB: string;
  let dir: string;

  function startNode(configFile: string, port: number, issuerPort: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, [CLI, 'idp', '--config', configFile], {
      env: { ...process.env, NODE_PORT: String(port), PALISADE_IDP_PORT: String(issuerPort), PALISADE_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    nodes.push(child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('node did not start')), 20_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening')) {
          clearTimeout(timer);
          resolve(child);
        }
      });
      child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
    });
  }

  before(async () => {
    await receiver.start();
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${portA}`;
    nodeB = `http://127.0.0.1:${portB}`;
    const document = parseYaml(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown> & { clients: Record<string, unknown>[] };
    document.listen = { host: '127.0.0.1', port: '${NODE_PORT}' };
    document.store = { postgres: { url: `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}` } };
    document.ciba = { interval: 1, sweep_interval: 1 };
    const gateway = document.clients.find((c) => c.client_id === CIBA.ping.id) ?? assert.fail();
    gateway.backchannel_client_notification_endpoint = `${receiver.url}/ping`;
    dir = mkdtempSync(join(tmpdir(), 'palisade-kill-'));
    const file = join(dir, 'palisade.yaml');
    writeFileSync(file, stringify(document));
    // Node A first (it migrates and makes the keys), then B.
    await startNode(file, portA, portA);
    await startNode(file, portB, portA);
  });
  after(async () => {
    for (const node of nodes) if (node.exitCode === null && node.signalCode === null) node.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
    await drop();
  });

  it('asked on A; A is killed; bob approves on a device talking to B; B pings and the agent redeems on B; an expiry A had timed is announced by B', async () => {
    const onA = { issuer } as never;
    const asked = field(
      await backchannelRequest(onA, CIBA.ping, {
        scope: 'openid',
        login_hint: 'bob',
        binding_message: 'survives',
        client_notification_token: 'ping-kill',
      }),
      'auth_req_id',
    );
    const expiring = field(
      await backchannelRequest(onA, CIBA.ping, {
        scope: 'openid',
        login_hint: 'bob',
        binding_message: 'expires',
        requested_expiry: '2',
        client_notification_token: 'ping-kill',
      }),
      'auth_req_id',
    );
    const nodeA = nodes[0] ?? assert.fail();
    nodeA.kill('SIGKILL');
    await new Promise((resolve) => nodeA.once('exit', resolve));

    // The device is served by B behind the same public origin (the load balancer's, i.e. the issuer's).
    const device = new Device({ issuer: nodeB, clock: new ManualClock() }, issuer);
    await device.signIn('bob');
    const shown = (await device.pending()).find((r) => r.binding_message === 'survives') ?? assert.fail();
    assert.equal(await device.approve(shown.id, { code: '' }), 'approved');

    const pings: Received[] = [await receiver.next(10_000), await receiver.next(10_000)];
    const ids = pings.map((p) => p.body.auth_req_id).sort();
    assert.deepEqual(ids, [asked, expiring].sort(), 'both outcomes reached the client, from B');
    assert.equal((await redeem({ issuer: nodeB } as never, CIBA.ping, asked)).status, 200);
    expectError(await redeem({ issuer: nodeB } as never, CIBA.ping, expiring), 400, 'expired_token');
  });
});
