import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { SignedXml } from 'xml-crypto';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { ACCESS_TOKEN_TYPE, ExchangingService, SAML2_TYPE } from '../helpers/exchange.js';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const FIN = 'http://127.0.0.1:9410/finance';
const Q4 = { type: 'file_access', locations: [FIN], actions: ['read'], identifier: 'Q4-report.pdf' };
const REPORTS_TOOL = { type: 'tool_access', locations: [DEMO.gateway], actions: ['reports.quarterly'] };

describe('token exchange (RFC 8693): agent → mcp-gateway → report-service → files, with openid-client genericGrantRequest', () => {
  let server: TestIdp;
  let userToken: client.TokenEndpointResponse;
  let gateway: ExchangingService;
  let reports: ExchangingService;

  before(async () => {
    server = await startTestIdp();
    // alice asks the assistant agent to fetch Q4 figures through the gateway.
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, {
      scope: 'openid tools.access',
      resource: DEMO.gateway,
      authorization_details: JSON.stringify([Q4, REPORTS_TOOL]),
    });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
    userToken = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    reports = await ExchangingService.connect(server.issuer, DEMO.reportService.id, DEMO.reportService.secret);
  });
  after(() => server.close());

  it('the user token is for the gateway only, and names the gateway as the one party that may act (may_act)', () => {
    const claims = decodeJwt(userToken.access_token);
    assert.equal(claims.aud, DEMO.gateway);
    assert.deepEqual(claims.may_act, { sub: 'mcp-gateway' });
    assert.equal(claims.act, undefined);
  });

  it('two nested hops: each token is for the next service only, keeps alice as sub, narrows, and records the whole chain', async () => {
    // Hop 1: the gateway gets a token for the reports tool.
    const toReports = await gateway.exchange(userToken.access_token, {
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    });
    assert.equal(toReports.issued_token_type, ACCESS_TOKEN_TYPE);
    assert.equal(toReports.token_type.toLowerCase(), 'bearer');
    const hop1 = decodeJwt(toReports.access_token);
    assert.equal(hop1.aud, DEMO.tools.reports);
    assert.equal(hop1.sub, 'alice');
    assert.equal(hop1.client_id, 'mcp-gateway');
    assert.deepEqual(hop1.act, { sub: 'mcp-gateway', act: { sub: 'assistant' } });
    assert.deepEqual(hop1.may_act, { sub: 'report-service' });
    assert.equal(hop1.scope, undefined, "tools.access is the gateway's scope and does not flow");
    assert.deepEqual(hop1.authorization_details, [Q4], 'exactly what the reports tool needs to read the file for alice');
    assert.ok((hop1.exp ?? 0) <= (decodeJwt(userToken.access_token).exp ?? 0), 'never outlives the subject token');

    // Hop 2: the reports tool gets one read of one file from the file server.
    const toFiles = await reports.exchange(toReports.access_token, {
      resource: DEMO.tools.files,
      authorization_details: JSON.stringify([Q4]),
    });
    const hop2 = decodeJwt(toFiles.access_token);
    assert.equal(hop2.aud, DEMO.tools.files);
    assert.equal(hop2.sub, 'alice');
    assert.equal(hop2.client_id, 'report-service');
    assert.deepEqual(hop2.act, { sub: 'report-service', act: { sub: 'mcp-gateway', act: { sub: 'assistant' } } });
    assert.deepEqual(hop2.authorization_details, [Q4]);
    assert.deepEqual(toFiles.authorization_details, [Q4], 'RFC 9396 §7 in the exchange response too');
    assert.equal(hop2.may_act, undefined, 'the file server is the end of the line');
    assert.ok((hop2.exp ?? 0) <= (hop1.exp ?? 0));
  });

  it('without details in the request, only details about the target itself flow (and only what rule and client allow)', async () => {
    const toReports = await gateway.exchange(userToken.access_token, { audience: DEMO.tools.reports });
    assert.equal(
      decodeJwt(toReports.access_token).authorization_details,
      undefined,
      'neither the file nor the gateway tool is the reports tool',
    );
    const toFilesDirect = await gateway.exchange(userToken.access_token, { audience: DEMO.tools.files });
    assert.deepEqual(decodeJwt(toFilesDirect.access_token).authorization_details, [Q4], 'the file detail concerns the file server');
    const withQ4 = await gateway.exchange(userToken.access_token, {
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    });
    const toFiles = await reports.exchange(withQ4.access_token, { audience: DEMO.tools.files });
    assert.deepEqual(decodeJwt(toFiles.access_token).authorization_details, [Q4]);
  });

  it('revoking one token in the chain revokes what was exchanged from it', async () => {
    const toReports = await gateway.exchange(userToken.access_token, {
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    });
    const toFiles = await reports.exchange(toReports.access_token, { audience: DEMO.tools.files });
    await client.tokenRevocation(gateway.config, toReports.access_token);
    assert.equal((await client.tokenIntrospection(reports.config, toFiles.access_token)).active, false);
  });

  it("revoking the user's grant kills every token down the chain", async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, {
      scope: 'openid',
      resource: DEMO.gateway,
      authorization_details: JSON.stringify([Q4]),
    });
    server.clock.advance(30);
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const toReports = await gateway.exchange(tokens.access_token, { audience: DEMO.tools.reports });
    assert.equal((await client.tokenIntrospection(gateway.config, toReports.access_token)).active, true);
    await client.tokenRevocation(config, tokens.refresh_token ?? assert.fail('no refresh token'));
    assert.equal((await client.tokenIntrospection(gateway.config, toReports.access_token)).active, false);
  });

  it('SAML output for the legacy HR tool: signed, verified by xml-crypto against the certificate in the JWKS (SECURITY X11)', async () => {
    const response = await gateway.exchange(userToken.access_token, { audience: DEMO.tools.hr, requested_token_type: SAML2_TYPE });
    assert.equal(response.issued_token_type, SAML2_TYPE);
    assert.equal(response.token_type.toUpperCase(), 'N_A', 'RFC 8693 §2.2.1 (openid-client lower-cases it)');
    assert.doesNotMatch(response.access_token, /[=+/]/, 'base64url without padding');
    const xml = Buffer.from(response.access_token, 'base64url').toString('utf8');

    // The verifier trusts only the certificate published in the IdP's JWKS.
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { alg: string; x5c?: string[] }[] };
    const x5c = jwks.keys.find((k) => k.alg === 'RS256' && k.x5c)?.x5c?.[0] ?? assert.fail('no certificate in the JWKS');
    const certificate = new X509Certificate(Buffer.from(x5c, 'base64'));
    const document = new DOMParser().parseFromString(xml, 'text/xml');
    const signatureNode = document.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0] ?? assert.fail('unsigned');
    const verifier = new SignedXml({ publicCert: certificate.toString() });
    verifier.loadSignature(signatureNode);
    assert.equal(verifier.checkSignature(xml), true, 'signature valid');
    assert.equal(verifier.getSignedReferences().length, 1);

    const assertion = document.documentElement ?? assert.fail('empty');
    const text = (tag: string) => assertion.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', tag)[0]?.textContent;
    assert.equal(text('Issuer'), server.issuer);
    assert.equal(text('NameID'), 'alice');
    assert.equal(text('Audience'), DEMO.tools.hr, 'the HR tool alone');
    const conditions = assertion.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Conditions')[0];
    const notOnOrAfter = Date.parse(conditions?.getAttribute('NotOnOrAfter') ?? '') / 1000;
    assert.ok(notOnOrAfter <= (decodeJwt(userToken.access_token).exp ?? 0), 'NotOnOrAfter ≤ the subject token expiry');
    assert.match(xml, /<saml:AttributeValue>finance<\/saml:AttributeValue>/, 'attributes the HR rule releases');
    assert.doesNotMatch(xml, /alice@example\.com/, "no email: neither the user's scopes nor the rule release it");
  });

  it('a SAML assertion with one byte changed fails verification', async () => {
    const response = await gateway.exchange(userToken.access_token, { audience: DEMO.tools.hr, requested_token_type: SAML2_TYPE });
    const xml = Buffer.from(response.access_token, 'base64url').toString('utf8').replace('>alice<', '>bob<');
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { alg: string; x5c?: string[] }[] };
    const x5c = jwks.keys.find((k) => k.x5c)?.x5c?.[0] ?? '';
    const document = new DOMParser().parseFromString(xml, 'text/xml');
    const verifier = new SignedXml({ publicCert: new X509Certificate(Buffer.from(x5c, 'base64')).toString() });
    verifier.loadSignature(document.getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'Signature')[0] ?? assert.fail());
    assert.equal(verifier.checkSignature(xml), false);
  });

  it('the HR tool gets nothing but SAML: a JWT for it is refused', async () => {
    await assert.rejects(
      gateway.exchange(userToken.access_token, { audience: DEMO.tools.hr }),
      (e: client.ResponseBodyError) => e.error === 'invalid_request',
    );
  });
});

describe('token exchange: id_token output (RFC 8693 §3)', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp({
      mutate: (doc) => {
        const rules = (doc.token_exchange as { rules: { client: string; to: string[]; token_types?: string[] }[] }).rules;
        const gatewayRule = rules.find((r) => r.client === 'mcp-gateway' && r.to.includes('http://127.0.0.1:9411'));
        if (gatewayRule) gatewayRule.token_types = ['access_token', 'jwt', 'id_token'];
      },
    });
  });
  after(() => server.close());

  it('an ID token for the target service: signed by the IdP, the user as sub, the chain in act, N_A', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationRequest(config, { scope: 'openid tools.access', resource: DEMO.gateway });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.bob });
    const user = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    const gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    const response = await gateway.exchange(user.access_token, {
      audience: DEMO.tools.reports,
      requested_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    });
    assert.equal(response.issued_token_type, 'urn:ietf:params:oauth:token-type:id_token');
    assert.equal(response.token_type.toUpperCase(), 'N_A');
    const { payload, protectedHeader } = await jwtVerify(response.access_token, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), {
      issuer: server.issuer,
      audience: DEMO.tools.reports,
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, 'bob');
    assert.deepEqual(payload.act, { sub: 'mcp-gateway', act: { sub: 'assistant' } });
    assert.ok((payload.exp ?? 0) <= (decodeJwt(user.access_token).exp ?? 0));
  });
});
