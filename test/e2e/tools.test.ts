import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { ExchangingService, SAML2_TYPE } from '../helpers/exchange.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { startTestTools, type TestTools } from '../helpers/tools.js';

const Q4 = { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' };

describe('demo tools on the resource-server SDK: reports → files on behalf of alice, hr-legacy on SAML', () => {
  let server: TestIdp;
  let tools: TestTools;
  let gateway: ExchangingService;

  before(async () => {
    server = await startTestIdp();
    tools = await startTestTools(server.issuer, () => server.clock.now());
    gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
  });
  after(async () => {
    await tools.close();
    await server.close();
  });

  async function userToken(who: 'alice' | 'bob', details: object[]): Promise<string> {
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, {
      scope: 'openid tools.access',
      resource: DEMO.gateway,
      ...(details.length > 0 ? { authorization_details: JSON.stringify(details) } : {}),
    });
    server.clock.advance(30);
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO[who], now: server.clock.now() });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    return tokens.access_token;
  }

  const summarize = (token: string) =>
    fetch(`${tools.reports}/summaries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ folder: 'finance', name: 'Q4-report.pdf' }),
    });

  it('alice reads Q4-report.pdf through reports → files; the files tool sees alice and the whole chain', async () => {
    const forReports = await gateway.exchange(await userToken('alice', [Q4]), {
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    });
    const response = await summarize(forReports.access_token);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { summary: string; readAs: { subject: string; actors: string[] } };
    assert.match(body.summary, /^Q4 2026 financial report\./);
    assert.equal(body.readAs.subject, 'alice');
    assert.deepEqual(body.readAs.actors, ['report-service', 'mcp-gateway', 'assistant']);
  });

  it('bob is refused: his token carries no file_access, so reports answers 403 naming the detail it needs (M7)', async () => {
    const forReports = await gateway.exchange(await userToken('bob', []), { audience: DEMO.tools.reports });
    const response = await summarize(forReports.access_token);
    assert.equal(response.status, 403);
    assert.match(
      response.headers.get('www-authenticate') ?? '',
      /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:9411\/\.well-known\/oauth-protected-resource", error="insufficient_scope"/,
    );
    const body = (await response.json()) as { error: string; authorization_details: unknown[] };
    assert.equal(body.error, 'insufficient_scope');
    assert.deepEqual(body.authorization_details, [Q4]);
  });

  it("the caller's own token never reaches files: the gateway token is refused there (M2, M9)", async () => {
    const token = await userToken('alice', [Q4]);
    const response = await fetch(`${tools.files}/finance/Q4-report.pdf`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  it('hr-legacy refuses a JWT and accepts the SAML assertion from token exchange; employees see their own record only', async () => {
    const alice = await userToken('alice', [Q4]);
    const jwt = await fetch(`${tools.hr}/employees/alice`, { headers: { authorization: `Bearer ${alice}` } });
    assert.equal(jwt.status, 401);
    const saml = await gateway.exchange(alice, { audience: DEMO.tools.hr, requested_token_type: SAML2_TYPE });
    const mine = await fetch(`${tools.hr}/employees/alice`, { headers: { authorization: `SAML ${saml.access_token}` } });
    assert.equal(mine.status, 200, await mine.clone().text());
    assert.equal(((await mine.json()) as { department: string }).department, 'Finance');
    const theirs = await fetch(`${tools.hr}/employees/bob`, { headers: { authorization: `SAML ${saml.access_token}` } });
    assert.equal(theirs.status, 403);
    const tampered = Buffer.from(Buffer.from(saml.access_token, 'base64url').toString('utf8').replace('>alice<', '>bob<')).toString(
      'base64url',
    );
    const forged = await fetch(`${tools.hr}/employees/bob`, { headers: { authorization: `SAML ${tampered}` } });
    assert.equal(forged.status, 401, 'a tampered assertion fails its signature');
  });

  it('hr-legacy reads only what the signature covers: a NameID smuggled into the Signature element changes nothing', async () => {
    const bob = await userToken('bob', []);
    const saml = await gateway.exchange(bob, { audience: DEMO.tools.hr, requested_token_type: SAML2_TYPE });
    const xml = Buffer.from(saml.access_token, 'base64url').toString('utf8');
    const smuggled = xml.replace(
      '</ds:SignatureValue>',
      '</ds:SignatureValue><ds:Object><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:Conditions NotBefore="2000-01-01T00:00:00Z" NotOnOrAfter="2099-01-01T00:00:00Z"/></ds:Object>',
    );
    assert.notEqual(smuggled, xml, 'the injection point exists');
    const attack = await fetch(`${tools.hr}/employees/alice`, {
      headers: { authorization: `SAML ${Buffer.from(smuggled).toString('base64url')}` },
    });
    assert.equal(attack.status, 403, 'still bob, who may not read alice');
    const doctype = `<!DOCTYPE x [<!ENTITY e "alice">]>${xml}`;
    const dtd = await fetch(`${tools.hr}/employees/bob`, {
      headers: { authorization: `SAML ${Buffer.from(doctype).toString('base64url')}` },
    });
    assert.equal(dtd.status, 401);
    const own = await fetch(`${tools.hr}/employees/bob`, { headers: { authorization: `SAML ${saml.access_token}` } });
    assert.equal(own.status, 200);
  });

  it('payments moves exactly what the detail says; above the threshold it asks for a fresh device approval (RFC 9470)', async () => {
    const transfer = (amount: string) => ({
      instructedAmount: { currency: 'EUR', amount },
      creditorName: 'Merchant A',
      creditorAccount: { iban: 'DE02100100109307118603' },
    });
    const detail = (amount: string) => ({
      type: 'payment_initiation',
      locations: [DEMO.tools.payments],
      actions: ['initiate'],
      ...transfer(amount),
    });
    const pay = async (amount: string, approvedAmount: string) => {
      const user = await userToken('alice', [detail(approvedAmount)]);
      const token = (await gateway.exchange(user, { audience: DEMO.tools.payments })).access_token;
      return fetch(`${tools.payments}/transfers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(transfer(amount)),
      });
    };
    const ok = await pay('123.50', '123.50');
    assert.equal(ok.status, 201);
    assert.equal(((await ok.json()) as { initiatedBy: string }).initiatedBy, 'alice');
    const other = await pay('123.51', '123.50');
    assert.equal(other.status, 403, 'one cent more than approved');
    const large = await pay('25000.00', '25000.00');
    assert.equal(large.status, 401);
    // One transfer per authorization: resending the same request with the same token is refused.
    const user = await userToken('alice', [detail('50.00')]);
    const token = (await gateway.exchange(user, { audience: DEMO.tools.payments })).access_token;
    const send = () =>
      fetch(`${tools.payments}/transfers`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(transfer('50.00')),
      });
    assert.equal((await send()).status, 201);
    assert.equal((await send()).status, 409);
    assert.match(
      large.headers.get('www-authenticate') ?? '',
      /error="insufficient_user_authentication".*acr_values="urn:palisade:acr:ciba", max_age=300/,
    );
  });
});
