import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@palisade/core';
import { createIdp, type Idp, parseConfig } from '@palisade/idp';
import { PostgresStore } from '@palisade/store';
import { testDatabase } from '@palisade/store/testing/postgres';
import { parse as parseYaml } from 'yaml';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { backchannelRequest, CIBA, Device, NotificationReceiver, redeem } from '../helpers/ciba.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { basic, expectError, field, post } from '../helpers/http.js';
import { DEMO, DEMO_CONFIG, freePort } from '../helpers/idp.js';

/**
 * Two IdP nodes on one PostgreSQL database (issue 10): the issuer is node A's
 * address (a load balancer in production); requests go to either node.
 * Correctness must not depend on which node a request lands on.
 */
const { unavailable, url, schema, drop } = await testDatabase('palisade_nodes');

describe('two IdP nodes sharing PostgreSQL', { skip: unavailable }, () => {
  const clock = new ManualClock();
  const nodes: { idp: Idp; store: PostgresStore; url: string }[] = [];
  let issuer: string;
  const receiver = new NotificationReceiver();

  before(async () => {
    const ports = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${ports[0]}`;
    await receiver.start();
    const document = parseYaml(readFileSync(DEMO_CONFIG, 'utf8')) as Record<string, unknown> & { clients: Record<string, unknown>[] };
    document.ciba = { interval: 1 };
    const gateway = document.clients.find((c) => c.client_id === CIBA.ping.id) ?? assert.fail();
    gateway.backchannel_client_notification_endpoint = `${receiver.url}/ping`;
    const config = parseConfig(document, 'multi-node', { PALISADE_IDP_PORT: String(ports[0]) });
    // Both nodes start at once, as in a rolling deployment: migrations and first keys race.
    const started = await Promise.all(
      ports.map(async (port) => {
        const store = await PostgresStore.connect({ connectionString: url, options: `-c search_path=${schema}` }, { clock });
        const idp = await createIdp({ config, store, clock });
        await idp.listen({ host: '127.0.0.1', port });
        return { idp, store, url: `http://127.0.0.1:${port}` };
      }),
    );
    nodes.push(...started);
  });
  after(async () => {
    for (const { idp, store } of nodes) {
      await idp.close();
      await store.close();
    }
    await drop();
    await receiver.close();
  });

  const node = (i: number) => nodes[i % 2]?.url ?? assert.fail('no node');

  it('tokens signed on one node verify on the other, even before its scheduled key reload', async () => {
    const opsBot = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
    for (let i = 0; i < 4; i++) {
      const issued = await post(`${node(i)}/token`, { grant_type: 'client_credentials' }, opsBot);
      assert.equal(issued.status, 200);
      const introspected = await post(`${node(i + 1)}/introspect`, { token: String(issued.body.access_token) }, opsBot);
      assert.equal(introspected.body.active, true, `signed on node ${i % 2}, introspected on node ${(i + 1) % 2}`);
    }
  });

  const auth = basic(DEMO.assistant.id, DEMO.assistant.secret);

  /** bob signs in through the issuer (node A) and gets a code: the token request that redeems it, for any node. */
  async function codeRedemption(): Promise<Record<string, string>> {
    const request = await authorizationRequest(await assistant(issuer));
    const callback = await authorizeInBrowser(new ScriptedBrowser(issuer), request.url, { ...DEMO.bob });
    const code = callback.searchParams.get('code') ?? assert.fail('no code');
    return { grant_type: 'authorization_code', code, code_verifier: request.verifier, redirect_uri: DEMO.assistant.redirectUri };
  }

  it('login on node A, code redeemed on node B, refresh alternating; a replay on either node revokes the family', async () => {
    const tokens = await post(`${node(1)}/token`, await codeRedemption(), auth);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    let refresh = String(tokens.body.refresh_token);
    const first = refresh;
    for (let i = 0; i < 4; i++) {
      const next = await post(`${node(i)}/token`, { grant_type: 'refresh_token', refresh_token: refresh }, auth);
      assert.equal(next.status, 200, `refresh ${i}`);
      refresh = String(next.body.refresh_token);
    }
    expectError(await post(`${node(1)}/token`, { grant_type: 'refresh_token', refresh_token: first }, auth), 400, 'invalid_grant');
    expectError(await post(`${node(0)}/token`, { grant_type: 'refresh_token', refresh_token: refresh }, auth), 400, 'invalid_grant');
  });

  it('one code, redeemed on both nodes at once: exactly one 200 (T3 across nodes)', async () => {
    for (let round = 0; round < 5; round++) {
      const form = await codeRedemption();
      const replies = await Promise.all([0, 1, 0, 1].map((i) => post(`${node(i)}/token`, form, auth)));
      assert.equal(replies.filter((r) => r.status === 200).length, 1, `round ${round}`);
    }
  });

  it('one refresh token, refreshed on both nodes at once: one 200, and the family is revoked (R2 across nodes)', async () => {
    for (let round = 0; round < 3; round++) {
      const tokens = await post(`${node(0)}/token`, await codeRedemption(), auth);
      const form = { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) };
      const replies = await Promise.all([0, 1].map((i) => post(`${node(i)}/token`, form, auth)));
      assert.equal(replies.filter((r) => r.status === 200).length, 1, `round ${round}`);
      const winner = replies.find((r) => r.status === 200);
      const afterRace = await post(
        `${node(round)}/token`,
        { grant_type: 'refresh_token', refresh_token: String(winner?.body.refresh_token) },
        auth,
      );
      expectError(afterRace, 400, 'invalid_grant');
    }
  });

  it('a pushed request made on one node is redeemed once, on the other', async () => {
    const config = await assistant(issuer);
    const request = await authorizationRequest(config);
    const onB = new URL(request.url.pathname + request.url.search, node(1));
    const first = await fetch(onB, { redirect: 'manual' });
    assert.equal(first.status, 303);
    const second = await fetch(new URL(request.url.pathname + request.url.search, node(0)), { redirect: 'manual' });
    assert.match(second.headers.get('location') ?? '', /error=invalid_request_uri/);
  });

  it('both nodes publish the same keys', async () => {
    const [a, b] = await Promise.all(
      nodes.map(async ({ url: base }) => (await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string }[] }),
    );
    await Promise.all(nodes.map(({ idp }) => idp.context.keystore.reload()));
    const [a2, b2] = await Promise.all(
      nodes.map(async ({ url: base }) => (await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string }[] }),
    );
    assert.deepEqual(a2, b2, 'after a reload the key sets are identical');
    assert.ok((a?.keys.length ?? 0) > 0 && (b?.keys.length ?? 0) > 0);
  });

  it('CIBA across nodes: asked on A, shown live and approved on a device talking to B, pinged from B, redeemed on A', async () => {
    const device = new Device({ issuer: node(1), clock }, issuer);
    await device.signIn('alice');
    const asked = await backchannelRequest({ issuer: node(0) } as never, CIBA.ping, {
      scope: 'openid',
      login_hint: 'alice',
      binding_message: 'cross-node',
      client_notification_token: 'ping-cross-node',
    });
    const authReqId = field(asked, 'auth_req_id');
    // B learns of a request taken by A from the store (its stream re-reads it), not from an in-process event.
    const shown = (await device.pending()).find((r) => r.binding_message === 'cross-node') ?? assert.fail();
    assert.equal(await device.approve(shown.id), 'approved');
    assert.deepEqual((await receiver.next()).body, { auth_req_id: authReqId });
    const tokens = await redeem({ issuer: node(0) } as never, CIBA.ping, authReqId);
    assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
    expectError(await redeem({ issuer: node(1) } as never, CIBA.ping, authReqId), 400, 'invalid_grant');
  });

  it('CIBA: approve on one node and deny on the other at once: exactly one decision counts, and one notification is sent', async () => {
    const onA = new Device({ issuer: node(0), clock }, issuer);
    await onA.signIn('alice');
    const onB = new Device({ issuer: node(1), clock }, issuer);
    await onB.signIn('alice');
    for (let round = 0; round < 3; round++) {
      receiver.reset();
      const message = `race ${round}`;
      await backchannelRequest({ issuer: node(round) } as never, CIBA.ping, {
        scope: 'openid',
        login_hint: 'alice',
        binding_message: message,
        client_notification_token: 'ping-race',
      });
      const rid = (await onA.pending()).find((r) => r.binding_message === message)?.id ?? assert.fail();
      const outcomes = await Promise.all([onA.approve(rid), onB.deny(rid)]);
      assert.equal(outcomes.filter((o) => o === 'approved' || o === 'denied').length, 1, JSON.stringify(outcomes));
      assert.ok(outcomes.includes('already_decided'), JSON.stringify(outcomes));
      await receiver.next();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.received.length, 1, 'one ping per request');
    }
  });
});
