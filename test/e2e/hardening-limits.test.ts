import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGateway, type Gateway, parseGatewayConfig } from '@palisade/gateway';
import { parse as parseYaml } from 'yaml';
import { GATEWAY_CONFIG, type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { basic, expectError, post } from '../helpers/http.js';
import { DEMO, freePort, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { loopbackCertificate } from '../helpers/tls.js';

const CC = { grant_type: 'client_credentials' };
const ops = basic(DEMO.opsBot.id, DEMO.opsBot.secret);

async function trail(server: TestIdp, event: string): Promise<Record<string, unknown>[]> {
  await server.idp.context.audit.flush();
  return (await server.idp.context.store.readAudit({ event })).map((row) => JSON.parse(row.entry) as Record<string, unknown>);
}

describe('input limits before any work (SECURITY J2): parameters are counted and measured as the form is read', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());

  it('65 parameters → 400 invalid_request, nothing issued', async () => {
    const form: [string, string][] = [['grant_type', 'client_credentials']];
    for (let i = 0; i < 64; i++) form.push([`p${i}`, 'x']);
    expectError(await post(`${server.issuer}/token`, form, ops), 400, 'invalid_request');
  });

  it('a parameter the endpoint reads of 20 KiB → 400 invalid_request; the same request within limits → 200 (unknown ones are ignored, A10)', async () => {
    expectError(await post(`${server.issuer}/token`, { ...CC, scope: 'x'.repeat(20 * 1024) }, ops), 400, 'invalid_request');
    assert.equal((await post(`${server.issuer}/token`, CC, ops)).status, 200);
  });

  it('headers over 16 KiB → 431 before any handler', async () => {
    const response = await fetch(`${server.issuer}/token`, { method: 'POST', headers: { 'x-filler': 'x'.repeat(20 * 1024) } });
    assert.equal(response.status, 431);
  });
});

describe('rate limits on the token, PAR and CIBA endpoints: per client after authentication, per IP before parsing', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp({
      mutate: (doc) => {
        doc.rate_limits = { window: 60, token: { per_client: 3, per_ip: 8 }, par: { per_client: 0, per_ip: 0 } };
      },
    });
  });
  after(() => server.close());

  it('past its limit a client gets 429 temporarily_unavailable with Retry-After; wrong secrets do not spend its budget; one audit event per burst', async () => {
    // An attacker who knows ops-bot's id but not its secret cannot use up its requests.
    for (let i = 0; i < 2; i++)
      expectError(await post(`${server.issuer}/token`, CC, basic(DEMO.opsBot.id, 'wrong-secret')), 401, 'invalid_client');
    for (let i = 0; i < 3; i++) assert.equal((await post(`${server.issuer}/token`, CC, ops)).status, 200);
    const throttled = await post(`${server.issuer}/token`, CC, ops);
    expectError(throttled, 429, 'temporarily_unavailable');
    assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
    expectError(await post(`${server.issuer}/token`, CC, ops), 429, 'temporarily_unavailable');
    const events = await trail(server, 'request.throttled');
    assert.equal(events.length, 1, 'the first refusal of the burst is recorded, not every one');
    assert.equal(events[0]?.client, DEMO.opsBot.id);
    assert.deepEqual(events[0]?.data, { endpoint: '/token', scope: 'client', limit: 3, window: 60 });
    assert.equal((await trail(server, 'request.rejected')).filter((e) => (e.data as { status?: number }).status === 429).length, 0);
  });

  it('per IP: the address is held to its limit whichever client it claims to be', async () => {
    // Seven requests from this address so far: another client gets one more, then the address is refused before the body is read.
    const other = basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    assert.equal((await post(`${server.issuer}/token`, CC, other)).status, 200);
    expectError(await post(`${server.issuer}/token`, CC, other), 429, 'temporarily_unavailable');
    const events = await trail(server, 'request.throttled');
    assert.ok(events.some((e) => (e.data as { scope?: string }).scope === 'ip'));
  });

  it('a limit of 0 is off: PAR is not throttled here', async () => {
    for (let i = 0; i < 8; i++) {
      const reply = await post(
        `${server.issuer}/par`,
        {
          response_type: 'code',
          redirect_uri: DEMO.assistant.redirectUri,
          scope: 'openid',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        },
        basic(DEMO.assistant.id, DEMO.assistant.secret),
      );
      assert.equal(reply.status, 201);
    }
  });
});

describe('TLS and HSTS: the IdP serves https with the configured certificate', () => {
  let server: TestIdp;
  const dir = mkdtempSync(join(tmpdir(), 'palisade-tls-'));
  const { cert, key } = loopbackCertificate();

  before(async () => {
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
    const port = await freePort();
    server = await startTestIdp({
      port,
      mutate: (doc) => {
        doc.issuer = `https://127.0.0.1:${port}`;
        doc.listen = { host: '127.0.0.1', port, tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') } };
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function get(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(`${server.issuer}${path}`, { ca: cert }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      });
      request.on('error', reject);
      request.end();
    });
  }

  it('discovery over https names the https endpoints; every answer carries HSTS and the other security headers', async () => {
    const discovery = await get('/.well-known/openid-configuration');
    assert.equal(discovery.status, 200);
    assert.equal((JSON.parse(discovery.body) as { token_endpoint: string }).token_endpoint, `${server.issuer}/token`);
    assert.equal(discovery.headers['strict-transport-security'], 'max-age=31536000');
    const page = await get('/device');
    for (const answer of [discovery, page]) {
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
      assert.equal(answer.headers['x-frame-options'], 'DENY');
      assert.equal(answer.headers['referrer-policy'], 'no-referrer');
      assert.match(String(answer.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.doesNotMatch(String(answer.headers['content-security-policy']), /unsafe-inline/);
    }
  });

  it('plain http to the TLS port is not answered as http', async () => {
    await assert.rejects(
      fetch(server.issuer.replace('https:', 'http:')).then((r) => (r.status >= 400 ? Promise.reject(new Error(String(r.status))) : r)),
    );
  });

  it('a config with listen.tls under an http issuer does not start', async () => {
    await assert.rejects(
      startTestIdp({
        mutate: (doc) => {
          doc.listen = { tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') } };
        },
      }),
      /listen\.tls is set, so issuer must be an https URL/,
    );
  });
});

describe('TLS at the gateway: https with the configured certificate, HSTS and API security headers', () => {
  let domain: GatewayDomain;
  let gateway: Gateway;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'palisade-gw-tls-'));
  const { cert, key } = loopbackCertificate();

  before(async () => {
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
    domain = await startGatewayDomain();
    const port = await freePort();
    const resource = `https://127.0.0.1:${port}/mcp`;
    gateway = await createGateway(
      {
        ...domain.config,
        resource,
        listen: { host: '127.0.0.1', port, tls: { cert_file: join(dir, 'cert.pem'), key_file: join(dir, 'key.pem') } },
      },
      { now: () => domain.server.clock.now() },
    );
    url = await gateway.listen();
  });
  after(async () => {
    await gateway?.close();
    await domain?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the protected resource metadata is served over https, naming the https resource, with HSTS', async () => {
    const answer = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const request = httpsRequest(`${new URL(url).origin}/.well-known/oauth-protected-resource/mcp`, { ca: cert }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      });
      request.on('error', reject);
      request.end();
    });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.body) as { resource: string }).resource, url);
    assert.equal(answer.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.equal(answer.headers['content-security-policy'], "default-src 'none'; frame-ancestors 'none'");
  });

  it('a gateway config with listen.tls and an http resource is refused', () => {
    assert.throws(() => {
      const document = parseYaml(readFileSync(GATEWAY_CONFIG, 'utf8')) as Record<string, unknown>;
      document.listen = { port: 1, tls: { cert_file: 'c', key_file: 'k' } };
      parseGatewayConfig(document, 'test', {});
    }, /listen\.tls is set, so resource must be an https URL/);
  });
});
