import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '@palisade/audit';
import { toolAuditSender } from '@palisade/resource-server';
import { aliceGatewayToken, gatewayHop as hop } from '../helpers/chain.js';
import { NotificationReceiver } from '../helpers/ciba.js';
import { basic, call, expectError, field, post } from '../helpers/http.js';
import { DEMO, DEMO_CONFIG, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { AUDIT_CLIENTS, startTestTools, type TestTools } from '../helpers/tools.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));

/** What a stored entry parses back to: the catalogue's event type. */
type Entry = AuditEvent;

describe('one call across agent, services and tools is one trace in one trail', () => {
  let server: TestIdp;
  let tools: TestTools;
  let bufferDir: string;
  const trace = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

  /** The CLI on this realm's data, as an operator would run it. */
  function palisade(args: string[]) {
    return spawnSync(process.execPath, [CLI, ...args, '--config', DEMO_CONFIG], {
      encoding: 'utf8',
      env: { ...process.env, PALISADE_DATA: server.dataDir, PALISADE_IDP_PORT: new URL(server.issuer).port },
    });
  }
  async function trail(query: Record<string, string>): Promise<Entry[]> {
    await server.idp.context.audit.flush();
    const rows = await server.idp.context.store.readAudit(query);
    return rows.map((row) => JSON.parse(row.entry) as Entry);
  }

  before(async () => {
    server = await startTestIdp();
    bufferDir = mkdtempSync(join(tmpdir(), 'palisade-audit-buffers-'));
    tools = await startTestTools(server.issuer, () => server.clock.now(), { bufferDir });
  });
  after(async () => {
    await tools.close();
    await server.close();
    rmSync(bufferDir, { recursive: true, force: true });
  });

  const aliceToken = () => aliceGatewayToken(server);
  const gatewayHop = (subjectToken: string) => hop(server, subjectToken, trace);

  it('agent → gateway → reports → files: the expected events, in order, under the agent’s trace id, with the act chain', async () => {
    const forReports = await gatewayHop(await aliceToken());
    const response = await fetch(`${tools.reports}/summaries`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${forReports}`,
        'content-type': 'application/json',
        traceparent: `00-${trace}-2222222222222222-01`,
      },
      body: JSON.stringify({ folder: 'finance', name: 'Q4-report.pdf' }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('traceparent') ?? '', new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`), 'the tool continues the trace');
    await Promise.all(Object.values(tools.senders ?? {}).map((sender) => sender.flush()));

    const events = (await trail({ traceId: trace })).sort((a, b) => a.time.localeCompare(b.time));
    assert.deepEqual(
      events.map((e) => [e.component, e.event, e.client]),
      [
        ['idp', 'token.exchanged', 'mcp-gateway'],
        // The reports service's own token, its actor_token for the next exchange.
        ['idp', 'token.issued', 'report-service'],
        ['idp', 'token.exchanged', 'report-service'],
        ['tool:files', 'tool.call_allowed', 'report-service'],
        ['tool:reports', 'tool.call_allowed', 'mcp-gateway'],
      ],
    );
    const [toReports, actor, toFiles, filesAllowed, reportsAllowed] = events;
    assert.equal(actor?.sub, 'report-service');
    assert.ok([toReports, toFiles, filesAllowed, reportsAllowed].every((e) => e?.sub === 'alice'));
    assert.equal(toFiles?.derived_from, toReports?.jti, 'the second hop names the first');
    assert.equal(filesAllowed?.jti, toFiles?.jti, 'the files tool accepted exactly the token the IdP issued for it');
    assert.deepEqual(filesAllowed?.act, { sub: 'report-service', act: { sub: 'mcp-gateway', act: { sub: 'assistant' } } });
    assert.deepEqual(reportsAllowed?.act, { sub: 'mcp-gateway', act: { sub: 'assistant' } });
    assert.deepEqual([filesAllowed?.reporter, reportsAllowed?.reporter], [AUDIT_CLIENTS.files.id, AUDIT_CLIENTS.reports.id]);
    assert.equal(filesAllowed?.data?.operation, 'GET /:folder/:name');

    const query = palisade(['audit', 'query', '--trace', trace]);
    assert.equal(query.status, 0, query.stderr);
    assert.equal(query.stdout.trim().split('\n').length, 5);
  });

  it('a refusal at a tool is a tool.call_denied event with the error', async () => {
    const token = await aliceToken();
    // The gateway token itself, sent straight to the files tool: the wrong audience.
    const denied = await fetch(`${tools.files}/finance/Q4-report.pdf`, {
      headers: { authorization: `Bearer ${token}`, traceparent: '00-0123456789abcdef0123456789abcdef-3333333333333333-01' },
    });
    assert.equal(denied.status, 401);
    await tools.senders?.files.flush();
    const [event] = await trail({ traceId: '0123456789abcdef0123456789abcdef' });
    assert.deepEqual(
      [event?.event, event?.outcome, event?.reason, event?.component],
      ['tool.call_denied', 'failure', 'invalid_token', 'tool:files'],
    );
    assert.equal(event?.sub, undefined, 'a token that did not verify names nobody');
  });

  it('while the IdP is down, tool events wait in the buffer file; after a restart they arrive in order and the chain verifies', async () => {
    const files = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, basic(DEMO.opsBot.id, DEMO.opsBot.secret));
    await tools.senders?.reports.flush();
    await server.stop();
    const buffer = join(bufferDir, 'audit-reports.jsonl');
    // Three refusals at the reports tool (its JWKS is cached, so it still decides), in a trace of their own.
    const outage = 'fedcba9876543210fedcba9876543210';
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${tools.reports}/summaries`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${field(files, 'access_token')}`,
          'content-type': 'application/json',
          traceparent: `00-${outage}-444444444444444${i}-01`,
        },
        body: JSON.stringify({ folder: 'finance', name: `missing-${i}.pdf` }),
      });
      assert.equal(response.status, 401);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const waiting = readFileSync(buffer, 'utf8').trim().split('\n');
    assert.equal(waiting.length, 3, 'every event is on disk before delivery');
    // The tool process "restarts" too: a new sender on the same buffer file.
    await tools.senders?.reports.close();
    const restarted = await startTestIdp({ dataDir: server.dataDir, port: Number(new URL(server.issuer).port), clock: server.clock });
    server = restarted;
    const again = toolAuditSender({
      issuer: server.issuer,
      clientId: AUDIT_CLIENTS.reports.id,
      clientSecret: AUDIT_CLIENTS.reports.secret,
      component: 'tool:reports',
      bufferFile: buffer,
    });
    await again.flush();
    await again.close();
    assert.equal(readFileSync(buffer, 'utf8'), '', 'delivered, so nothing waits');
    const delivered = await trail({ traceId: outage });
    assert.deepEqual(
      delivered.map((e) => e.data?.status),
      [401, 401, 401],
    );
    assert.deepEqual(
      delivered.map((e) => e.id),
      waiting.map((line) => (JSON.parse(line) as { id: string }).id),
      'in the order they happened',
    );
    await server.idp.context.audit.checkpoint();
    const verify = palisade(['audit', 'verify']);
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  });
});

describe('SECURITY: the audit ingestion endpoint', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());

  async function serviceToken(id: string, secret: string, form: Record<string, string>): Promise<string> {
    return field(await post(`${server.issuer}/token`, { grant_type: 'client_credentials', ...form }, basic(id, secret)), 'access_token');
  }
  const auditToken = () =>
    serviceToken(AUDIT_CLIENTS.files.id, AUDIT_CLIENTS.files.secret, { resource: `${server.issuer}/audit`, scope: 'audit.write' });
  const event = (extra: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    time: new Date().toISOString(),
    component: 'tool:files',
    event: 'tool.call_allowed',
    outcome: 'success',
    ...extra,
  });
  const ingest = (token: string | undefined, body: unknown) =>
    call(`${server.issuer}/audit/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('control: a service token for the audit resource appends; the IdP records who reported it', async () => {
    const sent = event();
    const reply = await ingest(await auditToken(), { events: [sent] });
    assert.deepEqual([reply.status, reply.body], [202, { accepted: 1, duplicates: 0 }]);
    await server.idp.context.audit.flush();
    const rows = await server.idp.context.store.readAudit({ event: 'tool.call_allowed' });
    const stored = JSON.parse(rows.at(-1)?.entry ?? '{}') as Entry;
    assert.deepEqual([stored.id, stored.reporter], [sent.id, AUDIT_CLIENTS.files.id]);
  });

  it('no token → 401 with a bare challenge; another audience → 401 invalid_token; no audit.write → 403 insufficient_scope', async () => {
    const none = await ingest(undefined, { events: [event()] });
    assert.deepEqual([none.status, none.headers.get('www-authenticate')], [401, 'Bearer realm="palisade"']);
    const other = await serviceToken(DEMO.opsBot.id, DEMO.opsBot.secret, {});
    expectError(await ingest(other, { events: [event()] }), 401, 'invalid_token');
    const unscoped = await serviceToken(AUDIT_CLIENTS.files.id, AUDIT_CLIENTS.files.secret, { resource: `${server.issuer}/audit` });
    expectError(await ingest(unscoped, { events: [event()] }), 403, 'insufficient_scope');
  });

  it('an event outside the catalogue, with unknown fields, a reserved component or a malformed trace → 400 and nothing appended', async () => {
    const token = await auditToken();
    await server.idp.context.audit.flush();
    const before = (await server.idp.context.store.readAudit()).length;
    for (const bad of [
      event({ event: 'money.printed' }),
      event({ extra: 'field' }),
      event({ component: 'idp' }),
      event({ trace_id: 'not-a-trace' }),
      event({ outcome: 'maybe' }),
      event({ id: 'not-a-uuid' }),
    ]) {
      expectError(await ingest(token, { events: [event(), bad] }), 400, 'invalid_request');
    }
    expectError(await ingest(token, { events: [] }), 400, 'invalid_request');
    expectError(await ingest(token, { events: Array.from({ length: 101 }, () => event()) }), 400, 'invalid_request');
    await server.idp.context.audit.flush();
    const afterRefusals = await server.idp.context.store.readAudit();
    // The refusals themselves are recorded (request.rejected); nothing from the bodies is.
    assert.ok(afterRefusals.slice(before).every((row) => row.event === 'request.rejected'));
  });

  it('an event sent twice (a retry after a lost answer) is stored once', async () => {
    const token = await auditToken();
    const sent = event();
    await ingest(token, { events: [sent] });
    const second = await ingest(token, { events: [sent] });
    assert.deepEqual(second.body, { accepted: 0, duplicates: 1 });
    await server.idp.context.audit.flush();
    const stored = (await server.idp.context.store.readAudit()).filter((row) => row.entry.includes(sent.id));
    assert.equal(stored.length, 1);
  });

  it('a token put in an event by mistake never reaches the trail', async () => {
    const token = await auditToken();
    await ingest(token, { events: [event({ data: { note: token } })] });
    await server.idp.context.audit.flush();
    const all = (await server.idp.context.store.readAudit()).map((row) => row.entry).join('\n');
    assert.equal(all.includes(token), false);
    assert.ok(all.includes('[redacted]'));
  });
});

describe('audit events copied to an OpenTelemetry collector (OTLP/HTTP JSON logs)', () => {
  it('each event arrives as a log record with the event as body, the trace id, and who and what as attributes; no token', async () => {
    const collector = await new NotificationReceiver().start();
    const server = await startTestIdp({
      mutate: (d) => Object.assign(d, { audit: { otlp: { endpoint: `${collector.url}/v1/logs`, headers: { 'x-api-key': 'k' } } } }),
    });
    try {
      const trace = '11112222333344445555666677778888';
      const issued = await call(`${server.issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic(DEMO.opsBot.id, DEMO.opsBot.secret), traceparent: `00-${trace}-aaaaaaaaaaaaaaaa-01` },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      const received = await collector.next();
      assert.equal(received.path, '/v1/logs');
      assert.equal(received.headers['x-api-key'], 'k');
      const logs = received.body as {
        resourceLogs: {
          scopeLogs: {
            scope: { name: string };
            logRecords: { body: { stringValue: string }; traceId?: string; attributes: { key: string; value: unknown }[] }[];
          }[];
        }[];
      };
      const record = logs.resourceLogs[0]?.scopeLogs[0]?.logRecords.find((r) => r.body.stringValue === 'token.issued');
      assert.ok(record, JSON.stringify(logs));
      assert.equal(record.traceId, trace);
      assert.deepEqual(record.attributes.find((a) => a.key === 'palisade.client')?.value, { stringValue: DEMO.opsBot.id });
      assert.equal(JSON.stringify(received.body).includes(field(issued, 'access_token')), false);
    } finally {
      await server.close();
      await collector.close();
    }
  });
});
