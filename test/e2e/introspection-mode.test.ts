import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createFilesTool, createReportsTool } from '@palisade/tools-demo';
import type { FastifyInstance } from 'fastify';
import { aliceGatewayToken, Q4 } from '../helpers/chain.js';
import { ExchangingService } from '../helpers/exchange.js';
import { basic, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

describe('resource-server SDK in introspection mode: revocation reaches the tool within the cache time', () => {
  let server: TestIdp;
  let files: FastifyInstance;
  let reports: FastifyInstance;
  let reportsUrl: string;
  let gateway: ExchangingService;

  /** A reports tool on this realm, verifying locally or (with `introspect`) asking the IdP too. */
  const reportsTool = (options: { introspect?: boolean; clientSecret?: string } = {}) =>
    createReportsTool({
      issuer: server.issuer,
      audience: DEMO.tools.reports,
      filesAudience: DEMO.tools.files,
      filesUrl: `http://127.0.0.1:${(files.server.address() as { port: number }).port}`,
      clientId: DEMO.reportService.id,
      clientSecret: options.clientSecret ?? DEMO.reportService.secret,
      ...(options.introspect ? { introspect: true } : {}),
      now: () => server.clock.now(),
    });
  /** A token for the reports tool, allowing the Q4 read, through the gateway's exchange. */
  const reportsToken = async () =>
    (await gateway.exchange(await aliceGatewayToken(server), { audience: DEMO.tools.reports, authorization_details: JSON.stringify([Q4]) }))
      .access_token;
  const summaryRequest = (token: string) => ({
    method: 'POST' as const,
    url: '/summaries',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: { folder: 'finance', name: 'Q4-report.pdf' },
  });

  before(async () => {
    server = await startTestIdp();
    const now = () => server.clock.now();
    files = createFilesTool({ issuer: server.issuer, audience: DEMO.tools.files, now });
    await files.listen({ host: '127.0.0.1', port: 0 });
    reports = reportsTool({ introspect: true });
    await reports.listen({ host: '127.0.0.1', port: 0 });
    reportsUrl = `http://127.0.0.1:${(reports.server.address() as { port: number }).port}`;
    gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
  });
  after(async () => {
    await reports.close();
    await files.close();
    await server.close();
  });

  const summarise = (token: string) =>
    fetch(`${reportsUrl}/summaries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ folder: 'finance', name: 'Q4-report.pdf' }),
    });
  const introspections = async () => {
    await server.idp.context.audit.flush();
    return (await server.idp.context.store.readAudit({ event: 'token.introspected', client: DEMO.reportService.id })).length;
  };

  it('an active token works and is asked about once per cache window; once revoked it is refused after the window', async () => {
    const token = await reportsToken();
    const before = await introspections();
    assert.equal((await summarise(token)).status, 200);
    assert.equal((await summarise(token)).status, 200);
    assert.equal((await introspections()) - before, 1, 'the second call used the cached answer');

    // The gateway revokes the token it was given (RFC 7009).
    const revoked = await post(`${server.issuer}/revoke`, { token }, basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret));
    assert.equal(revoked.status, 200);
    assert.equal((await summarise(token)).status, 200, 'within the 30 s window the cached answer still stands (documented)');
    server.clock.advance(31);
    const refused = await summarise(token);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('control: a tool verifying JWTs locally only keeps accepting a revoked token until it expires', async () => {
    const forFiles = await reportsToken();
    const local = reportsTool();
    await local.listen({ host: '127.0.0.1', port: 0 });
    try {
      await post(`${server.issuer}/revoke`, { token: forFiles }, basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret));
      const response = await local.inject(summaryRequest(forFiles));
      // The signature and claims still verify; only the IdP knows it was revoked (and the downstream exchange now fails).
      assert.equal(response.statusCode, 503, 'accepted by reports; refused only one hop later, by the IdP');
    } finally {
      await local.close();
    }
  });

  it('when the IdP cannot be asked, the call fails closed with 503', async () => {
    const token = await reportsToken();
    const offline = reportsTool({ introspect: true, clientSecret: 'not-the-secret' });
    try {
      const response = await offline.inject(summaryRequest(token));
      assert.equal(response.statusCode, 503);
      assert.equal(JSON.parse(response.body).error, 'temporarily_unavailable');
    } finally {
      await offline.close();
    }
  });
});
