import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Q4 } from '../helpers/chain.js';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { post } from '../helpers/http.js';
import { DEMO } from '../helpers/idp.js';
import { MetadataDocumentLoginProvider } from '../helpers/mcp.js';
import { loopbackCertificate } from '../helpers/tls.js';

const REDIRECT = 'http://127.0.0.1:8790/callback';

describe('Client ID Metadata Documents: a stock MCP client registers itself by URL (MCP 2025-11-25)', () => {
  let domain: GatewayDomain;
  let documents: Server;
  let base = '';
  const fetched = new Map<string, number>();
  const dir = mkdtempSync(join(tmpdir(), 'palisade-cimd-'));

  /** The documents an internal https host serves: one good, the rest each wrong in one way. */
  function documentFor(path: string): { status: number; body: string; headers?: Record<string, string> } {
    const url = `${base}${path}`;
    const good = {
      client_id: url,
      client_name: 'Acme Agent',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    const json = (doc: unknown) => ({ status: 200, body: JSON.stringify(doc) });
    switch (path) {
      case '/clients/agent.json':
        return json(good);
      case '/clients/other-id.json':
        return json({ ...good, client_id: `${base}/clients/agent.json` });
      case '/clients/secret.json':
        return json({ ...good, client_secret: 'shh' });
      case '/clients/confidential.json':
        return json({ ...good, token_endpoint_auth_method: 'client_secret_basic' });
      case '/clients/foreign-redirect.json':
        return json({ ...good, redirect_uris: ['https://attacker.example/callback'] });
      case '/clients/client-credentials.json':
        return json({ ...good, grant_types: ['client_credentials'] });
      case '/clients/huge.json':
        return json({ ...good, client_name: 'x', padding: 'x'.repeat(10_000) });
      case '/clients/redirecting.json':
        return { status: 302, body: '', headers: { location: `${base}/clients/agent.json` } };
      case '/clients/not-json.json':
        return { status: 200, body: '<html></html>', headers: { 'content-type': 'text/html' } };
      default:
        return { status: 404, body: '{}' };
    }
  }

  before(async () => {
    const { cert, key } = loopbackCertificate();
    writeFileSync(join(dir, 'ca.pem'), cert);
    documents = createServer({ cert, key }, (request, response) => {
      const path = request.url ?? '';
      fetched.set(path, (fetched.get(path) ?? 0) + 1);
      const answer = documentFor(path);
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body);
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(documents.address() as { port: number }).port}`;
    base = `https://${host}`;
    domain = await startGatewayDomain({
      mutateIdp(document) {
        document.client_id_metadata_documents = {
          enabled: true,
          allowed_hosts: [host],
          ca_file: join(dir, 'ca.pem'),
          timeout_ms: 1000,
          scopes: ['tools.access'],
          resources: [DEMO.gateway],
          authorization_details_types: ['file_access'],
        };
      },
    });
  });
  after(async () => {
    await domain?.close();
    documents?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the SDK sees client_id_metadata_document_supported, uses its URL as client_id; alice signs in; the agent reads Q4-report.pdf', async () => {
    const url = `${base}/clients/agent.json`;
    const login = () => {
      domain.server.clock.advance(30);
      return { ...DEMO.alice, now: domain.server.clock.now() };
    };
    const provider = new MetadataDocumentLoginProvider(domain.server.issuer, login, [Q4], url);
    await assert.rejects(
      new Client({ name: 'acme', version: '1.0.0' }).connect(
        new StreamableHTTPClientTransport(new URL(domain.url), { authProvider: provider }),
      ),
      UnauthorizedError,
    );
    assert.equal(provider.sdkUrl?.searchParams.get('client_id'), url);
    const transport = new StreamableHTTPClientTransport(new URL(domain.url), { authProvider: provider });
    await transport.finishAuth(provider.code);
    const client = new Client({ name: 'acme', version: '1.0.0' });
    await client.connect(transport);
    const result = await client.callTool({ name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
    assert.equal(result.isError, undefined, JSON.stringify(result));
    await client.close();
    // People see where the client comes from: a document cannot pass for a configured client.
    assert.equal(domain.server.idp.context.realm.clients.get(url)?.name, `Acme Agent (${new URL(base).host})`);
    // Fetched once, then reused (cache_seconds).
    assert.equal(fetched.get('/clients/agent.json'), 1);
  });

  const REFUSED = [
    ['a document naming another client_id', '/clients/other-id.json'],
    ['a document carrying a secret', '/clients/secret.json'],
    ['a confidential client', '/clients/confidential.json'],
    ['redirect URIs on another host', '/clients/foreign-redirect.json'],
    ['grants other than the code flow', '/clients/client-credentials.json'],
    ['a document over the size limit', '/clients/huge.json'],
    ['a redirect instead of the document', '/clients/redirecting.json'],
    ['HTML instead of JSON', '/clients/not-json.json'],
    ['a document that does not exist', '/clients/missing.json'],
  ] as const;
  for (const [what, path] of REFUSED) {
    it(`refused: ${what} → error page at /authorize (no redirect), invalid_client at PAR`, async () => {
      const clientId = `${base}${path}`;
      const query = new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        scope: 'tools.access',
      });
      const response = await fetch(`${domain.server.issuer}/authorize?${query}`, { redirect: 'manual' });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      const pushed = await post(`${domain.server.issuer}/par`, Object.fromEntries(query));
      assert.equal(pushed.status, 401);
      assert.equal(pushed.body.error, 'invalid_client');
      if (path === '/clients/redirecting.json') assert.equal(fetched.get('/clients/agent.json'), 1, 'the redirect was not followed');
    });
  }

  it('URLs outside the allow list, or not https, are never fetched', async () => {
    const before = [...fetched.values()].reduce((a, b) => a + b, 0);
    for (const clientId of [
      'https://169.254.169.254/latest/meta-data.json',
      `${base.replace('https:', 'http:')}/clients/agent.json`,
      `${base}/`,
      `${base}/clients/../clients/agent.json`,
      `${base}/clients/agent.json?x=1`,
    ]) {
      const pushed = await post(`${domain.server.issuer}/par`, { client_id: clientId, response_type: 'code', redirect_uri: REDIRECT });
      assert.equal(pushed.status, 401, clientId);
    }
    assert.equal(
      [...fetched.values()].reduce((a, b) => a + b, 0),
      before,
    );
  });

  it('discovery advertises it when enabled (the demo realm, where it is off, does not: par-rar test)', async () => {
    const metadata = (await (await fetch(`${domain.server.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(metadata.client_id_metadata_document_supported, true);
  });
});
