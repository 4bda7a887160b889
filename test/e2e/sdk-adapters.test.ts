import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { requireDetail, TokenVerifier } from '@palisade/resource-server';
import { expressErrorHandler, protectNodeHandler, requireToken } from '@palisade/resource-server/node';
import express from 'express';
import { basic, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const TOOL = { type: 'tool_access', locations: [DEMO.gateway], actions: ['files.read'] };

describe('SDK adapters: plain node:http and Express enforce the same rules as the Fastify one', () => {
  let server: TestIdp;
  const servers: Server[] = [];
  const bases: Record<'node' | 'express', string> = { node: '', express: '' };
  let gatewayToken: string;

  before(async () => {
    server = await startTestIdp();
    // The SDK guards a tool whose audience is the gateway, so ops-bot's client_credentials token fits it.
    const verifier = new TokenVerifier({ issuer: server.issuer, audience: DEMO.gateway });
    const nodeServer = createServer(
      protectNodeHandler(verifier, (_request, response, token) => {
        requireDetail(token, TOOL);
        response.writeHead(200, { 'content-type': 'text/plain', 'x-token-trace': token.traceId ?? '' }).end(`hello ${token.sub}`);
      }),
    );
    const app = express();
    app.use(requireToken(verifier));
    app.get('/', (request, response) => {
      const token = (request as { palisadeToken?: Parameters<typeof requireDetail>[0] }).palisadeToken;
      if (!token) throw new Error('no token');
      requireDetail(token, TOOL);
      response
        .type('text/plain')
        .header('x-token-trace', token.traceId ?? '')
        .send(`hello ${token.sub}`);
    });
    app.use(expressErrorHandler(verifier));
    const expressServer = createServer(app);
    for (const [name, s] of [
      ['node', nodeServer],
      ['express', expressServer],
    ] as const) {
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      servers.push(s);
      bases[name] = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    }
    const issued = await post(
      `${server.issuer}/token`,
      { grant_type: 'client_credentials', authorization_details: JSON.stringify([TOOL]) },
      basic(DEMO.opsBot.id, DEMO.opsBot.secret),
    );
    gatewayToken = String(issued.body.access_token);
  });
  after(async () => {
    for (const s of servers) s.close();
    await server.close();
  });

  for (const name of ['node', 'express'] as const) {
    it(`${name}: no token → 401 with resource_metadata (M1); a covered call → 200`, async () => {
      const none = await fetch(`${bases[name]}/`);
      assert.equal(none.status, 401);
      assert.match(
        none.headers.get('www-authenticate') ?? '',
        /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:9401\/\.well-known\/oauth-protected-resource\/mcp", DPoP resource_metadata="[^"]+", algs="[^"]+"$/,
      );
      const ok = await fetch(`${bases[name]}/`, { headers: { authorization: `Bearer ${gatewayToken}` } });
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'hello ops-bot');
    });

    it(`${name}: a token without the detail → 403 insufficient_scope naming it (M7); a tampered token → 401 invalid_token`, async () => {
      const bare = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, basic(DEMO.opsBot.id, DEMO.opsBot.secret));
      const refused = await fetch(`${bases[name]}/`, { headers: { authorization: `Bearer ${String(bare.body.access_token)}` } });
      assert.equal(refused.status, 403);
      assert.deepEqual(((await refused.json()) as { authorization_details: unknown }).authorization_details, [TOOL]);
      const other = await fetch(`${bases[name]}/?x=1`, { headers: { authorization: `Bearer ${gatewayToken}x` } });
      assert.equal(other.status, 401);
      assert.match(other.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    });

    it(`${name}: each request's token carries that request's trace (ADR 0012), even when the verified token is shared`, async () => {
      const traces = ['4bf92f3577b34da6a3ce929d0e0e4736', '0af7651916cd43dd8448eb211c80319c'];
      // The same token at once under two traces: the verifier's cached token is one object, each request gets its own copy.
      const answers = await Promise.all(
        traces.map((trace) =>
          fetch(`${bases[name]}/`, {
            headers: { authorization: `Bearer ${gatewayToken}`, traceparent: `00-${trace}-00f067aa0ba902b7-01` },
          }),
        ),
      );
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.get('x-token-trace'), traces[i]);
        // The answer continues the caller's trace from a span of its own (W3C Trace Context §3.2).
        const [version, trace, span, flags] = (answer.headers.get('traceparent') ?? '').split('-');
        assert.deepEqual([version, trace, flags], ['00', traces[i], '01']);
        assert.match(span ?? '', /^[0-9a-f]{16}$/);
        assert.notEqual(span, '00f067aa0ba902b7');
      }
      // No traceparent (or an invalid one): a new trace, the same on the token and the answer.
      for (const headers of [{}, { traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }]) {
        const fresh = await fetch(`${bases[name]}/`, { headers: { authorization: `Bearer ${gatewayToken}`, ...headers } });
        const trace = fresh.headers.get('x-token-trace') ?? '';
        assert.match(trace, /^[0-9a-f]{32}$/);
        assert.ok(!traces.includes(trace) && !/^0+$/.test(trace));
        assert.equal(fresh.headers.get('traceparent')?.split('-')[1], trace);
      }
    });
  }
});
