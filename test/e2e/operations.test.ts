import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { basic, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('operations endpoints: /healthz, /readyz, /metrics (issue 10)', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());

  it('/healthz answers while the process lives; /readyz checks the store and the keys', async () => {
    const health = await fetch(`${server.issuer}/healthz`);
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }]);
    const ready = await fetch(`${server.issuer}/readyz`);
    assert.deepEqual([ready.status, await ready.json()], [200, { status: 'ready', store: true, keys: true }]);
  });

  it('/readyz says 503 when the store is gone (a load balancer then takes the node out)', async () => {
    const other = await startTestIdp();
    await other.idp.context.store.close();
    const ready = await fetch(`${other.issuer}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { store: boolean }).store, false);
    await other.idp.close();
  });

  it('/metrics counts requests by route and token requests by grant and outcome, and reveals no secret', async () => {
    const auth = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
    const issued = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, auth);
    await post(`${server.issuer}/token`, { grant_type: 'client_credentials', scope: 'root' }, auth);
    const text = await (await fetch(`${server.issuer}/metrics`)).text();
    assert.match(text, /palisade_token_requests_total\{grant_type="client_credentials",outcome="issued"\} 1/);
    assert.match(text, /palisade_token_requests_total\{grant_type="client_credentials",outcome="error_400"\} 1/);
    assert.match(text, /palisade_http_requests_total\{route="\/token",method="POST",status="200"\} 1/);
    assert.match(text, /palisade_http_request_duration_seconds_bucket\{le="[0-9.]+",route="\/token"\}/);
    assert.equal(text.includes(String(issued.body.access_token)), false);
    assert.equal(text.includes(DEMO.opsBot.secret), false);
  });
});
