import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
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

  it('/metrics counts every audit event by name and outcome (exchanges, CIBA outcomes, refusals) and shows the audit backlog', async () => {
    const wrong = basic(DEMO.opsBot.id, 'not-the-secret');
    await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, wrong);
    await server.idp.context.audit.flush();
    const text = await (await fetch(`${server.issuer}/metrics`)).text();
    assert.match(text, /palisade_audit_events_total\{event="token\.issued",outcome="success"\} [1-9]/);
    assert.match(text, /palisade_audit_events_total\{event="client\.authentication_failed",outcome="failure"\} 1/);
    assert.match(text, /palisade_audit_backlog \d+/);
  });
});

describe('logs carry the trace id (W3C traceparent), so log lines and audit events join up', () => {
  it('every line logged while serving a request names its trace; the response names it too', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const server = await startTestIdp({ logger: { level: 'info', stream } });
    try {
      const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const response = await fetch(`${server.issuer}/token`, {
        method: 'POST',
        headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      assert.match(response.headers.get('traceparent') ?? '', new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`));
      await response.body?.cancel();
    } finally {
      await server.close();
    }
    const served = lines
      .map((line) => JSON.parse(line) as { msg: string; trace_id?: string })
      .filter((l) => l.msg !== 'incoming request' && l.msg.includes('request'));
    assert.ok(served.length >= 2, JSON.stringify(served));
    assert.ok(
      served.every((l) => l.trace_id === '4bf92f3577b34da6a3ce929d0e0e4736'),
      JSON.stringify(served),
    );
  });
});
