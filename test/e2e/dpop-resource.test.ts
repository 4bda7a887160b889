import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DpopNonces } from '@palisade/core';
import { DpopKey, ServiceClient, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { Q4 } from '../helpers/chain.js';
import { makeProof, type ProofKey, proofKey } from '../helpers/dpop.js';
import { type GatewayDomain, startGatewayDomain, userGatewayToken } from '../helpers/gateway.js';
import { basic, call, field } from '../helpers/http.js';
import { DEMO, WallClock } from '../helpers/idp.js';

const LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};

/** The status, the challenge's scheme and its error code, asserted together. */
function expectChallenge(response: Response, status: number, scheme: string, error: string): void {
  const challenge = response.headers.get('www-authenticate') ?? '';
  assert.deepEqual(
    { status: response.status, scheme: challenge.split(' ')[0], error: /error="([^"]+)"/.exec(challenge)?.[1] },
    { status, scheme, error },
    challenge,
  );
}

describe('DPoP at the gateway and at a tool (RFC 9449 §7): a stolen bound token is useless without its key', () => {
  let domain: GatewayDomain;
  let capture: Server;
  const captured: { authorization: string; dpop: string }[] = [];
  let agentKey: ProofKey;
  let agentToken: string;

  before(async () => {
    // A stand-in for the files tool that records what the gateway presents to it.
    capture = createServer((request, response) => {
      captured.push({ authorization: request.headers.authorization ?? '', dpop: String(request.headers.dpop ?? '') });
      response.writeHead(200, { 'content-type': 'text/plain' }).end('captured');
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
    const port = (capture.address() as { port: number }).port;
    domain = await startGatewayDomain({ clock: new WallClock(), toolUrls: { '9410': `http://127.0.0.1:${port}` } });
    agentKey = await proofKey();
    const token = `${domain.server.issuer}/token`;
    const issued = await call(token, {
      method: 'POST',
      headers: { authorization: basic(DEMO.opsBot.id, DEMO.opsBot.secret), dpop: await makeProof(agentKey, { htu: token }) },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: domain.url }),
    });
    agentToken = field(issued, 'access_token');
    assert.equal(issued.body.token_type, 'DPoP');
  });
  after(async () => {
    await domain?.close();
    capture?.close();
  });

  async function gatewayCall(authorization: string, dpop?: string): Promise<Response> {
    return fetch(domain.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization, ...(dpop ? { dpop } : {}) }, body: LIST });
  }
  const proofFor = (key: ProofKey, options: { htm?: string; htu?: string; accessToken?: string; jti?: string; iat?: number } = {}) =>
    makeProof(key, { htu: domain.url, accessToken: agentToken, ...options });

  it('the agent with its key is served', async () => {
    const response = await gatewayCall(`DPoP ${agentToken}`, await proofFor(agentKey));
    assert.equal(response.status, 200, await response.clone().text());
  });

  it('P-1: the bound token sent as Bearer → 401 with a DPoP challenge naming the algorithms', async () => {
    const response = await gatewayCall(`Bearer ${agentToken}`);
    expectChallenge(response, 401, 'DPoP', 'invalid_token');
    assert.match(response.headers.get('www-authenticate') ?? '', /algs="ES256 ES384 EdDSA RS256 PS256"/);
  });

  const refusals: [string, () => Promise<[string, string | undefined]>, string][] = [
    ['P-2: no proof', async () => [`DPoP ${agentToken}`, undefined], 'invalid_dpop_proof'],
    ['P-2: a proof without ath', async () => [`DPoP ${agentToken}`, await makeProof(agentKey, { htu: domain.url })], 'invalid_dpop_proof'],
    ['P-3: wrong htm', async () => [`DPoP ${agentToken}`, await proofFor(agentKey, { htm: 'GET' })], 'invalid_dpop_proof'],
    ['P-3: wrong htu', async () => [`DPoP ${agentToken}`, await proofFor(agentKey, { htu: `${domain.url}/other` })], 'invalid_dpop_proof'],
    [
      'P-3: iat an hour old',
      async () => [`DPoP ${agentToken}`, await proofFor(agentKey, { iat: Math.floor(Date.now() / 1000) - 3600 })],
      'invalid_dpop_proof',
    ],
    [
      'P-4: ath of another token',
      async () => [`DPoP ${agentToken}`, await proofFor(agentKey, { accessToken: 'another.token.value' })],
      'invalid_dpop_proof',
    ],
    ['P-4: the thief’s own key', async () => [`DPoP ${agentToken}`, await proofFor(await proofKey())], 'invalid_dpop_proof'],
  ];
  for (const [name, build, error] of refusals) {
    it(`${name} → 401 ${error} in a DPoP challenge`, async () => {
      const [authorization, dpop] = await build();
      expectChallenge(await gatewayCall(authorization, dpop), 401, 'DPoP', error);
    });
  }

  it('P-3: a replayed proof (same jti) is refused the second time', async () => {
    const proof = await proofFor(agentKey);
    assert.equal((await gatewayCall(`DPoP ${agentToken}`, proof)).status, 200);
    expectChallenge(await gatewayCall(`DPoP ${agentToken}`, proof), 401, 'DPoP', 'invalid_dpop_proof');
  });

  it('an unbound (Bearer) token sent with the DPoP scheme → 401 invalid_token', async () => {
    const alice = (await userGatewayToken(domain, 'alice', [Q4])).token ?? assert.fail('no token');
    expectChallenge(await gatewayCall(`DPoP ${alice}`, await proofFor(agentKey, { accessToken: alice })), 401, 'DPoP', 'invalid_token');
  });

  it('at a tool: the token the gateway presented, lifted with its proof, is refused — as Bearer, with the lifted proof, with the thief’s key', async () => {
    domain.server.clock.advance(30); // alice's TOTP step of her own
    const alice = (await userGatewayToken(domain, 'alice', [Q4])).token ?? assert.fail('no token');
    captured.length = 0;
    const answer = await fetch(domain.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${alice}` },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'files.read', arguments: { path: 'Q4-report.pdf' } },
      }),
    });
    assert.equal(answer.status, 200);
    const lifted = captured[0] ?? assert.fail('the gateway called nothing');
    assert.match(lifted.authorization, /^DPoP /);
    const token = lifted.authorization.slice(5);
    assert.equal(decodeJwt(token).aud, DEMO.tools.files);
    const target = `${domain.tools.files}/finance/Q4-report.pdf`;
    const at = (headers: Record<string, string>) => fetch(target, { headers });
    expectChallenge(await at({ authorization: `Bearer ${token}` }), 401, 'DPoP', 'invalid_token');
    expectChallenge(await at({ authorization: `DPoP ${token}`, dpop: lifted.dpop }), 401, 'DPoP', 'invalid_dpop_proof');
    const thief = await proofKey();
    expectChallenge(
      await at({ authorization: `DPoP ${token}`, dpop: await makeProof(thief, { htm: 'GET', htu: target, accessToken: token }) }),
      401,
      'DPoP',
      'invalid_dpop_proof',
    );
  });
});

describe('resource-server SDK options: nonces (P-5) and DPoP required, with the SDK’s own DpopKey client', () => {
  let domain: GatewayDomain;
  let apps: FastifyInstance[] = [];
  let key: DpopKey;
  let boundToken: string;

  async function app(verifier: TokenVerifier): Promise<string> {
    const server = Fastify();
    protect(server, verifier, { name: 'probe' });
    server.get('/whoami', async (request) => ({ sub: tokenOf(request).sub, jkt: tokenOf(request).jkt }));
    await server.listen({ host: '127.0.0.1', port: 0 });
    apps.push(server);
    return `http://127.0.0.1:${(server.server.address() as { port: number }).port}/whoami`;
  }

  before(async () => {
    domain = await startGatewayDomain({ clock: new WallClock() });
    key = await DpopKey.generate();
    const ops = new ServiceClient({ issuer: domain.server.issuer, clientId: DEMO.opsBot.id, clientSecret: DEMO.opsBot.secret, dpop: key });
    boundToken = await ops.ownToken({ resource: domain.url });
  });
  after(async () => {
    for (const server of apps) await server.close();
    apps = [];
    await domain?.close();
  });

  it('with server nonces: a proof without one → 401 use_dpop_nonce and a DPoP-Nonce; DpopKey retries with it by itself', async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const url = await app(
      new TokenVerifier({ issuer: domain.server.issuer, audience: domain.url, dpop: { nonces: new DpopNonces({ lifetime: 60, now }) } }),
    );
    const first = await fetch(url, { headers: { authorization: `DPoP ${boundToken}`, dpop: await key.proof('GET', url, boundToken) } });
    expectChallenge(first, 401, 'DPoP', 'use_dpop_nonce');
    assert.ok(first.headers.get('dpop-nonce'));
    const served = await key.fetch(url, { accessToken: boundToken });
    assert.equal(served.status, 200);
    assert.deepEqual(await served.json(), { sub: DEMO.opsBot.id, jkt: key.jkt });
  });

  it('with DPoP required: no token → a DPoP challenge only; a Bearer token → 401 invalid_token; a bound one with its proof → 200', async () => {
    const url = await app(new TokenVerifier({ issuer: domain.server.issuer, audience: domain.url, dpop: { required: true } }));
    const none = await fetch(url);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^DPoP resource_metadata="[^"]+", algs="[^"]+"$/);
    const plain = new ServiceClient({ issuer: domain.server.issuer, clientId: DEMO.opsBot.id, clientSecret: DEMO.opsBot.secret });
    expectChallenge(
      await fetch(url, { headers: { authorization: `Bearer ${await plain.ownToken({ resource: domain.url })}` } }),
      401,
      'DPoP',
      'invalid_token',
    );
    assert.equal((await key.fetch(url, { accessToken: boundToken })).status, 200);
  });
});
