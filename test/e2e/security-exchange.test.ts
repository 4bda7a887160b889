/**
 * SECURITY.md "Token exchange" (X1–X12) over raw HTTP built byte by byte (RFC 8693). Each block has positive
 * controls that differ from its refusals in the one thing under test; each refusal asserts the description of
 * the check meant, so none passes because another check fired first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { basic, expectError, field, post, type Reply } from '../helpers/http.js';
import { type ConfigDocument, DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TYPE = {
  access: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  id: 'urn:ietf:params:oauth:token-type:id_token',
  saml2: 'urn:ietf:params:oauth:token-type:saml2',
  refresh: 'urn:ietf:params:oauth:token-type:refresh_token',
} as const;
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const { files: FILES, reports: REPORTS_TOOL, payments: PAYMENTS, hr: HR } = DEMO.tools;
const FIN = 'http://127.0.0.1:9410/finance';
const Q4 = { type: 'file_access', locations: [FIN], actions: ['read'], identifier: 'Q4-report.pdf' };
const Q4_RW = { ...Q4, actions: ['read', 'write'] };
const TOOL = { type: 'tool_access', locations: [DEMO.gateway], actions: ['reports.quarterly'] };
const PAYEE = { creditorName: 'Merchant A', creditorAccount: { iban: 'DE02100100109307118603' } };
const AMOUNT = { instructedAmount: { currency: 'EUR', amount: '10.00' } };
const PAYMENT = { type: 'payment_initiation', locations: [PAYMENTS], actions: ['initiate'], ...AMOUNT, ...PAYEE };

type Service = { readonly id: string; readonly secret: string };
const GATEWAY: Service = DEMO.mcpGateway;
const REPORTS: Service = DEMO.reportService;
const OPS_BOT: Service = DEMO.opsBot;
const ASSISTANT: Service = DEMO.assistant;
const BATCH: Service = { id: 'batch-job', secret: 'batch-job-secret' };

type Changes = Record<string, string | null>;
const json = (value: unknown) => JSON.stringify(value);
const INVALID_SUBJECT = /subject_token is invalid/;
const ad = (...details: object[]): Changes => ({ authorization_details: json(details) });

/** The demo's exchange rules, for `mutate`: [0] report-service, [1] mcp-gateway JWTs, [2] mcp-gateway SAML for HR. */
const rules = (d: ConfigDocument) => (d.token_exchange as { rules: Record<string, unknown>[] }).rules;
const clientOf = (d: ConfigDocument, id: string) => d.clients.find((c) => c.client_id === id) ?? assert.fail(`no client ${id}`);

/** A service's own client_credentials token: what it presents as actor_token (RFC 8693 §1.1). */
async function actorToken(server: TestIdp, service: Service, form: Record<string, string> = {}): Promise<string> {
  const reply = await post(`${server.issuer}/token`, { grant_type: 'client_credentials', ...form }, basic(service.id, service.secret));
  return field(reply, 'access_token');
}

/**
 * A delegation request as a careful service sends it: client_secret_basic, its own fresh actor token, the files
 * tool as audience. `changes` replaces (string) or drops (null) a parameter; `extra` appends repeated ones.
 */
async function exchange(server: TestIdp, service: Service, subject: string, changes: Changes = {}, extra: [string, string][] = []) {
  const all: Changes = {
    grant_type: TOKEN_EXCHANGE,
    subject_token: subject,
    subject_token_type: TYPE.access,
    actor_token: 'actor_token' in changes ? null : await actorToken(server, service),
    actor_token_type: TYPE.access,
    audience: FILES,
    ...changes,
  };
  const form = [...Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== null), ...extra];
  return post(`${server.issuer}/token`, form, basic(service.id, service.secret));
}

/** 200 with a token, never a refresh token (issue 4: not unless policy says so); returns the token. */
function issued(reply: Reply): string {
  assert.equal(reply.status, 200, json(reply.body));
  assert.equal(reply.body.refresh_token, undefined, 'no refresh token from an exchange');
  return field(reply, 'access_token');
}

/** 400, this error code, no token, and the description of the check meant. */
async function refused(pending: Promise<Reply>, error: string, why: RegExp): Promise<void> {
  const reply = await pending;
  expectError(reply, 400, error);
  assert.match(String(reply.body.error_description), why);
  assert.equal(reply.body.access_token, undefined);
}

/** A user's token from the assistant agent for the MCP gateway: PAR, PKCE, the real login pages. */
async function login(server: TestIdp, user: 'alice' | 'bob', details: readonly object[] = []): Promise<client.TokenEndpointResponse> {
  const config = await assistant(server.issuer);
  const request = await authorizationRequest(config, {
    scope: 'openid tools.access',
    resource: DEMO.gateway,
    ...(details.length > 0 ? { authorization_details: json(details) } : {}),
  });
  // TOTP codes are single-use per 30 s step (RFC 6238 §5.2).
  if (user === 'alice') server.clock.advance(30);
  const script = user === 'alice' ? { ...DEMO.alice, now: server.clock.now() } : DEMO.bob;
  const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, script);
  return client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
}

/** RFC 7009 revocation by the assistant, the owner of the user's tokens. */
async function revoke(server: TestIdp, token: string): Promise<void> {
  assert.equal((await post(`${server.issuer}/revoke`, { token }, basic(ASSISTANT.id, ASSISTANT.secret))).status, 200);
}

const segment = (value: object) => Buffer.from(json(value)).toString('base64url');
/** One character in the middle of the signature changed (the last one may only carry padding bits). */
function flipSignature(jwt: string): string {
  const [header, payload, signature = ''] = jwt.split('.');
  const i = Math.floor(signature.length / 2);
  return `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
}
const algNone = (jwt: string) => `${segment({ alg: 'none', typ: 'at+jwt' })}.${jwt.split('.')[1]}.`;
/** The same header and signature over changed claims. */
function withClaims(jwt: string, claims: object): string {
  const [header, payload = '', signature] = jwt.split('.');
  return `${header}.${segment({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), ...claims })}.${signature}`;
}

describe('SECURITY X2, X3, X6, X7: subject and actor tokens (RFC 8693 §1.1, §2.1, §2.2.2)', () => {
  let server: TestIdp;
  let bob: client.TokenEndpointResponse;
  before(async () => {
    // The gateway may also get a client_credentials token for the files tool: an actor token for the wrong audience (X7).
    server = await startTestIdp({ mutate: (d) => Object.assign(clientOf(d, GATEWAY.id), { resources: [FILES] }) });
    bob = await login(server, 'bob');
  });
  after(() => server.close());

  it('control: the gateway exchanges bob’s gateway token with its own actor token, declared as access_token and as jwt', async () => {
    for (const type of [TYPE.access, TYPE.jwt]) {
      const claims = decodeJwt(issued(await exchange(server, GATEWAY, bob.access_token, { subject_token_type: type })));
      assert.deepEqual([claims.sub, claims.aud, claims.client_id], ['bob', FILES, GATEWAY.id]);
      assert.deepEqual(claims.act, { sub: GATEWAY.id, act: { sub: ASSISTANT.id } });
    }
  });

  const subjects: [string, () => Changes][] = [
    ['its signature changed in one character', () => ({ subject_token: flipSignature(bob.access_token) })],
    ['alg none, hand-built with the same claims', () => ({ subject_token: algNone(bob.access_token) })],
    ['sub changed to alice under the original signature', () => ({ subject_token: withClaims(bob.access_token, { sub: 'alice' }) })],
    ['an access token declared as id_token', () => ({ subject_token_type: TYPE.id })],
    ['an ID token declared as access_token', () => ({ subject_token: bob.id_token ?? '' })],
    ['an ID token issued to another client (the assistant)', () => ({ subject_token: bob.id_token ?? '', subject_token_type: TYPE.id })],
    ['a refresh token declared as access_token', () => ({ subject_token: bob.refresh_token ?? '' })],
    ['an access token declared as saml2', () => ({ subject_token_type: TYPE.saml2 })],
    ['no subject_token', () => ({ subject_token: null })],
    ['no subject_token_type', () => ({ subject_token_type: null })],
  ];
  for (const [name, changes] of subjects) {
    it(`X2: subject: ${name} → 400 invalid_request (RFC 8693 §2.1, §2.2.2)`, async () => {
      await refused(exchange(server, GATEWAY, bob.access_token, changes()), 'invalid_request', /subject_token/);
    });
  }

  it('X2: a subject token its owner revoked at /revoke → 400 invalid_request (RFC 7009 §2; RFC 8693 §2.1)', async () => {
    const tokens = await login(server, 'bob');
    issued(await exchange(server, GATEWAY, tokens.access_token));
    await revoke(server, tokens.access_token);
    await refused(exchange(server, GATEWAY, tokens.access_token), 'invalid_request', INVALID_SUBJECT);
  });

  it('X2: a subject token of a revoked grant, and a token exchanged from it earlier → 400 invalid_request (RFC 7009 §2.1)', async () => {
    const tokens = await login(server, 'bob');
    const toReports = issued(await exchange(server, GATEWAY, tokens.access_token, { audience: REPORTS_TOOL }));
    await revoke(server, tokens.refresh_token ?? assert.fail());
    await refused(exchange(server, GATEWAY, tokens.access_token), 'invalid_request', INVALID_SUBJECT);
    await refused(exchange(server, REPORTS, toReports), 'invalid_request', INVALID_SUBJECT);
  });

  it('X3: actor_token without actor_token_type, or the reverse → 400 invalid_request (RFC 8693 §2.1)', async () => {
    const own = await actorToken(server, GATEWAY);
    for (const changes of [{ actor_token: own, actor_token_type: null }, { actor_token: null }]) {
      await refused(exchange(server, GATEWAY, bob.access_token, changes), 'invalid_request', /sent together/);
    }
  });

  it('X6: no actor token asks for impersonation, which the delegation-only rule forbids → 400 invalid_request (RFC 8693 §1.1)', async () => {
    const changes = { actor_token: null, actor_token_type: null };
    await refused(exchange(server, GATEWAY, bob.access_token, changes), 'invalid_request', /impersonation is not allowed/);
  });

  const OWN = /client's own token/;
  const actors: [string, RegExp, () => Promise<string>][] = [
    ['ops-bot’s own token', OWN, () => actorToken(server, OPS_BOT)],
    ['report-service’s own token', OWN, () => actorToken(server, REPORTS)],
    ['bob’s access token (a user)', OWN, async () => bob.access_token],
    ['a token it got by exchange (sub bob)', OWN, async () => issued(await exchange(server, GATEWAY, bob.access_token))],
    ['its own token for the files tool', /for this authorization server/, () => actorToken(server, GATEWAY, { resource: FILES })],
    ['its own token with a changed signature', /actor_token is invalid/, async () => flipSignature(await actorToken(server, GATEWAY))],
  ];
  for (const [name, why, actor] of actors) {
    it(`X7: the gateway presenting ${name} as actor_token → 400 invalid_request (RFC 8693 §2.2.2)`, async () => {
      await refused(exchange(server, GATEWAY, bob.access_token, { actor_token: await actor() }), 'invalid_request', why);
    });
  }

  it('X7: the gateway’s own token declared as id_token → 400 invalid_request (RFC 8693 §2.1)', async () => {
    const changes = { actor_token: await actorToken(server, GATEWAY), actor_token_type: TYPE.id };
    await refused(exchange(server, GATEWAY, bob.access_token, changes), 'invalid_request', /actor_token_type is not supported/);
  });

  // Last in this block: the clock moves past every token issued so far.
  it('X2, X7: an expired actor token, then an expired subject token → 400 invalid_request (RFC 8693 §2.1)', async () => {
    const staleActor = await actorToken(server, GATEWAY);
    server.clock.advance(200);
    const { access_token: subject } = await login(server, 'bob');
    server.clock.advance(101);
    await refused(exchange(server, GATEWAY, subject, { actor_token: staleActor }), 'invalid_request', /actor_token is invalid/);
    issued(await exchange(server, GATEWAY, subject));
    server.clock.advance(300);
    await refused(exchange(server, GATEWAY, subject), 'invalid_request', INVALID_SUBJECT);
  });
});

describe('SECURITY X1, X8, X4, X10, X11: whose token, for which target, as what (RFC 8693 §2.1, §2.2.2, §4.4; RFC 8707)', () => {
  let server: TestIdp;
  let bob: string;
  /** bob → gateway → reports (may_act report-service) → files (no may_act), and gateway → files directly. */
  let toReports: string, toFiles: string, gatewayToFiles: string;
  before(async () => {
    server = await startTestIdp();
    bob = (await login(server, 'bob')).access_token;
    toReports = issued(await exchange(server, GATEWAY, bob, { audience: REPORTS_TOOL }));
    toFiles = issued(await exchange(server, REPORTS, toReports, { audience: null, resource: FILES }));
    gatewayToFiles = issued(await exchange(server, GATEWAY, bob));
  });
  after(() => server.close());

  it('control: each hop is exchanged by its audience’s own service, and may_act names the next one (RFC 8693 §4.4)', () => {
    const [user, hop1, hop2] = [bob, toReports, toFiles].map((t) => decodeJwt(t));
    assert.deepEqual([user?.aud, user?.may_act], [DEMO.gateway, { sub: GATEWAY.id }]);
    assert.deepEqual([hop1?.aud, hop1?.may_act], [REPORTS_TOOL, { sub: REPORTS.id }]);
    assert.deepEqual([hop2?.aud, hop2?.may_act], [FILES, undefined]);
  });

  // X1 decision (ADR 0006): a subject token for another audience is 400 invalid_request (RFC 8693 §2.2.2), not 403 access_denied.
  // The demo's may_act always names the audience's own service, so X1 and X8 overlap; each case below has one cause only.
  const X1 = /not issued for this client's resource/;
  const owners: [string, Service, () => Promise<string>, RegExp][] = [
    ['report-service, a gateway-made token for the files tool (no may_act)', REPORTS, async () => gatewayToFiles, X1],
    ['report-service, its own exchanged token for the files tool, again', REPORTS, async () => toFiles, X1],
    ['report-service, the gateway’s client_credentials token', REPORTS, () => actorToken(server, GATEWAY), X1],
    ['the gateway, its own client_credentials token', GATEWAY, () => actorToken(server, GATEWAY), X1],
    ['the gateway, the files-tool token report-service got', GATEWAY, async () => toFiles, X1],
    ['the gateway, its own exchanged token for reports (may_act report-service)', GATEWAY, async () => toReports, /may_act/],
    ['report-service, bob’s gateway token (may_act mcp-gateway)', REPORTS, async () => bob, /may_act/],
    ['report-service, ops-bot’s gateway token (may_act mcp-gateway)', REPORTS, () => actorToken(server, OPS_BOT), /may_act/],
  ];
  for (const [name, service, subject, why] of owners) {
    const [row, cite] = why === X1 ? ['X1', '§2.2.2; ADR 0006'] : ['X8', '§4.4'];
    it(`${row}: ${name} → 400 invalid_request (RFC 8693 ${cite})`, async () => {
      await refused(exchange(server, service, await subject()), 'invalid_request', why);
    });
  }

  it('control: the files tool named as audience or as resource gets a token of exactly that one audience', async () => {
    for (const changes of [{ audience: null, resource: FILES }, { audience: FILES }, { audience: FILES, resource: FILES }]) {
      assert.equal(decodeJwt(issued(await exchange(server, GATEWAY, bob, changes))).aud, FILES);
    }
  });

  const targets: [string, Changes, [string, string][]?][] = [
    ['the gateway itself (not in the rule’s to)', { audience: DEMO.gateway }],
    ['payments, for report-service (its rule reaches files only)', { audience: PAYMENTS, as: 'reports' }],
    ['reports, for report-service', { audience: null, resource: REPORTS_TOOL, as: 'reports' }],
    ['an unknown server', { audience: 'http://127.0.0.1:9499' }],
    ['the IdP itself', { audience: 'issuer' }],
    ['a URN', { audience: 'urn:palisade:files' }],
    ['a relative audience', { audience: '/files' }],
    ['a relative resource', { audience: null, resource: '/files' }],
    ['a scheme-relative resource', { audience: null, resource: '//127.0.0.1:9410' }],
    ['a resource with a fragment', { audience: null, resource: `${FILES}#x` }],
    ['a resource with an empty fragment', { audience: null, resource: `${FILES}#` }],
    ['the files tool with a trailing slash', { audience: null, resource: `${FILES}/` }],
    ['the files tool as localhost', { audience: 'http://localhost:9410' }],
    ['two audiences of one rule', {}, [['audience', PAYMENTS]]],
    ['an audience and another resource', { resource: REPORTS_TOOL }],
    ['pairs from two rules (files, HR)', { resource: HR }],
  ];
  for (const [name, { as, ...changes }, extra] of targets) {
    it(`X4: target ${name} → 400 invalid_target (RFC 8693 §2.2.2; RFC 8707 §2)`, async () => {
      const target = changes.audience === 'issuer' ? { ...changes, audience: server.issuer } : changes;
      const [service, subject] = as ? [REPORTS, toReports] : [GATEWAY, bob];
      await refused(exchange(server, service, subject, target, extra), 'invalid_target', /audience|resource/);
    });
  }

  it('X4: no target, or only empty ones → 400 invalid_request (RFC 8693 §2.1; RFC 6749 §3.1)', async () => {
    for (const changes of [{ audience: null }, { audience: '', resource: '' }]) {
      await refused(exchange(server, GATEWAY, bob, changes), 'invalid_request', /audience or resource is required/);
    }
  });

  it('control: requested_token_type jwt for the files tool is issued as asked (saml2 for HR: X11 below)', async () => {
    const jwt = await exchange(server, GATEWAY, bob, { requested_token_type: TYPE.jwt });
    assert.deepEqual([issued(jwt) !== '', jwt.body.issued_token_type, jwt.body.token_type], [true, TYPE.jwt, 'Bearer']);
  });

  const types: [string, string, string | null, RegExp][] = [
    ['refresh_token (RFC 8693 §3, never issued here)', FILES, TYPE.refresh, /not supported/],
    ['a bare name (access_token)', FILES, 'access_token', /not supported/],
    ['a type URI in upper case', FILES, TYPE.access.toUpperCase(), /not supported/],
    ['id_token, which no demo rule allows', FILES, TYPE.id, /not allowed/],
    ['a JWT for the HR tool (SAML only)', HR, TYPE.jwt, /not allowed/],
    ['none (an access token) for the HR tool', HR, null, /not allowed/],
  ];
  for (const [name, audience, type, why] of types) {
    it(`X10: requested_token_type ${name} → 400 invalid_request (RFC 8693 §2.2.2)`, async () => {
      await refused(exchange(server, GATEWAY, bob, { audience, requested_token_type: type }), 'invalid_request', why);
    });
  }

  /** Every Audience, Recipient and NotOnOrAfter (as epoch seconds) of the assertion (SAML Core §2.5.1, §2.4.1.2). */
  function readAssertion(token: string): { audiences: string[]; recipients: string[]; notOnOrAfter: number[] } {
    const document = new DOMParser().parseFromString(Buffer.from(token, 'base64url').toString('utf8'), 'text/xml');
    const all = (tag: string) => Array.from(document.getElementsByTagNameNS(SAML, tag));
    const limited = [...all('Conditions'), ...all('SubjectConfirmationData')];
    return {
      audiences: all('Audience').map((e) => e.textContent ?? ''),
      recipients: all('SubjectConfirmationData').map((e) => e.getAttribute('Recipient') ?? ''),
      notOnOrAfter: limited.map((e) => Date.parse(e.getAttribute('NotOnOrAfter') ?? '') / 1000),
    };
  }

  it('X11: SAML for the HR tool: issued_token_type saml2, token_type N_A case-exact, HR the only Audience, NotOnOrAfter ≤ subject exp (RFC 8693 §2.2.1)', async () => {
    const reply = await exchange(server, GATEWAY, bob, { audience: HR, requested_token_type: TYPE.saml2 });
    const token = issued(reply);
    assert.deepEqual([reply.body.issued_token_type, reply.body.token_type, reply.body.scope], [TYPE.saml2, 'N_A', undefined]);
    assert.match(token, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
    const assertion = readAssertion(token);
    assert.deepEqual([assertion.audiences, assertion.recipients], [[HR], [HR]]);
    assert.equal(assertion.notOnOrAfter.length, 2);
    for (const t of assertion.notOnOrAfter) assert.ok(t <= (decodeJwt(bob).exp ?? 0), 'never after the subject token');
  });

  it('X11: saml2 for any target but the HR tool → 400 invalid_request (RFC 8693 §2.2.2)', async () => {
    for (const audience of [FILES, REPORTS_TOOL, PAYMENTS]) {
      await refused(exchange(server, GATEWAY, bob, { audience, requested_token_type: TYPE.saml2 }), 'invalid_request', /not allowed/);
    }
  });

  it('X11: an assertion needs a person: ops-bot’s machine token is refused for SAML, not for a JWT (SAML Core §2.4)', async () => {
    const machine = await actorToken(server, OPS_BOT);
    issued(await exchange(server, GATEWAY, machine));
    await refused(exchange(server, GATEWAY, machine, { audience: HR, requested_token_type: TYPE.saml2 }), 'invalid_request', /person/);
  });

  // Last in this block: the clock moves on.
  it('lifetime: with 100 s left on the subject, the exchanged JWT, the next hop and the SAML assertion end at its exp (RFC 8693 §2.1)', async () => {
    const user = (await login(server, 'bob')).access_token;
    const exp = decodeJwt(user).exp ?? assert.fail();
    server.clock.advance(exp - server.clock.now() - 100);
    const hop1 = await exchange(server, GATEWAY, user, { audience: REPORTS_TOOL });
    assert.deepEqual([decodeJwt(issued(hop1)).exp, hop1.body.expires_in], [exp, 100]);
    server.clock.advance(40);
    const hop2 = await exchange(server, REPORTS, field(hop1, 'access_token'));
    assert.deepEqual([decodeJwt(issued(hop2)).exp, hop2.body.expires_in], [exp, 60]);
    const saml = await exchange(server, GATEWAY, user, { audience: HR, requested_token_type: TYPE.saml2 });
    assert.deepEqual([readAssertion(issued(saml)).notOnOrAfter, saml.body.expires_in], [[exp, exp], 60]);
  });
});

describe('SECURITY X5: scope and authorization_details only narrow (RFC 8693 §2.1; RFC 9396 §6)', () => {
  let server: TestIdp;
  /** alice's gateway token with [Q4 read+write, TOOL], and report-service's subject made from it. */
  let alice: string;
  let toReports: string;
  before(async () => {
    server = await startTestIdp({
      mutate: (d) => {
        // The gateway rule lets tool_access flow, but the gateway client may no longer request that type;
        // and the rule lets openid and profile flow, so scope narrowing has something to narrow.
        clientOf(d, GATEWAY.id).authorization_details_types = ['file_access', 'payment_initiation'];
        Object.assign(rules(d)[1] ?? assert.fail(), { scopes: ['openid', 'profile'] });
      },
    });
    alice = (await login(server, 'alice', [Q4_RW, TOOL])).access_token;
    toReports = issued(await exchange(server, GATEWAY, alice, { audience: REPORTS_TOOL, ...ad(Q4_RW) }));
  });
  after(() => server.close());

  it('control: openid flows when asked for, and a detail narrower than the subject’s is issued exactly', async () => {
    const reply = await exchange(server, GATEWAY, alice, { scope: 'openid', ...ad(Q4) });
    const claims = decodeJwt(issued(reply));
    assert.deepEqual([reply.body.scope, reply.body.authorization_details], ['openid', [Q4]]);
    assert.deepEqual([claims.scope, claims.authorization_details], ['openid', [Q4]]);
  });

  const WIDER = /exceed the subject token/;
  const narrowing: [string, Changes, RegExp, 'reports'?][] = [
    ['scope profile, allowed by the rule but not in the subject token', { scope: 'profile' }, /exceeds the subject/],
    ['scope openid profile, one more than the subject token', { scope: 'openid profile' }, /exceeds the subject/],
    ['scope offline_access, a refresh token by the back door', { scope: 'offline_access' }, /exceeds the subject/],
    ['scope tools.access, in the subject token but not let flow by the rule', { scope: 'tools.access' }, /may not flow/],
    ['details for another identifier', ad({ ...Q4, identifier: 'salaries.xlsx' }), WIDER],
    ['details with delete instead of read', ad({ ...Q4, actions: ['delete'] }), WIDER],
    ['details for another location', ad({ ...Q4, locations: [`${FILES}/engineering`] }), WIDER],
    ['details without identifier (every file)', ad({ ...Q4, identifier: undefined }), WIDER],
    ['details of another type the client may request (payment_initiation)', ad(PAYMENT), WIDER],
    ['details of a type the rule lets through but the client may not request', ad(TOOL), /client may not request this type/],
    ['details of an unknown type', ad({ type: 'root_access' }), /unknown type/],
    ['details that are malformed JSON', { authorization_details: '[{"type":' }, /not valid JSON/],
    ['details as an empty array', { authorization_details: '[]' }, /must not be empty/],
    ['read+write, in the subject but above report-service’s read-only ceiling', ad(Q4_RW), /may not flow/, 'reports'],
    ['write alone, for report-service', ad({ ...Q4, actions: ['write'] }), /may not flow/, 'reports'],
  ];
  for (const [name, changes, why, as] of narrowing) {
    const [error, cite] = 'scope' in changes ? ['invalid_scope', 'RFC 6749 §5.2'] : ['invalid_authorization_details', 'RFC 9396 §6'];
    it(`X5: ${name} → 400 ${error} (RFC 8693 §2.1; ${cite})`, async () => {
      const [service, subject] = as ? [REPORTS, toReports] : [GATEWAY, alice];
      await refused(exchange(server, service, subject, changes), error, why);
    });
  }

  it('control: report-service gets the read of Q4 it may have, from a read+write subject', async () => {
    assert.deepEqual(decodeJwt(toReports).authorization_details, [Q4_RW]);
    const reply = await exchange(server, REPORTS, toReports, ad(Q4));
    assert.deepEqual(decodeJwt(issued(reply)).authorization_details, [Q4]);
  });

  it('X5: with nothing requested, only what the rule ceilings and the client’s types allow flows: no tool_access, no write (RFC 9396 §6)', async () => {
    const gateway = decodeJwt(issued(await exchange(server, GATEWAY, alice)));
    assert.deepEqual([gateway.authorization_details, gateway.scope], [[Q4_RW], 'openid'], 'tools.access is the gateway’s own scope');
    assert.equal(decodeJwt(issued(await exchange(server, REPORTS, toReports))).authorization_details, undefined);
  });
});

describe('SECURITY X9: delegation chains no deeper than policy, and no actor twice (RFC 8693 §4.1, local policy)', () => {
  let server: TestIdp;
  let bob: string;
  before(async () => {
    server = await startTestIdp({
      mutate: (d) => {
        // report-service may be at most the second actor; the gateway may also exchange for its own audience (a loop).
        Object.assign(rules(d)[0] ?? assert.fail(), { max_chain_depth: 2 });
        Object.assign(rules(d)[1] ?? assert.fail(), { to: [DEMO.gateway, FILES, REPORTS_TOOL, PAYMENTS] });
      },
    });
    bob = (await login(server, 'bob')).access_token;
  });
  after(() => server.close());

  it('control: a chain exactly at the limit (gateway, then report-service, for ops-bot’s own token) is issued', async () => {
    const toReports = issued(await exchange(server, GATEWAY, await actorToken(server, OPS_BOT), { audience: REPORTS_TOOL }));
    assert.deepEqual(decodeJwt(toReports).act, { sub: GATEWAY.id });
    const toFiles = decodeJwt(issued(await exchange(server, REPORTS, toReports)));
    assert.deepEqual([toFiles.sub, toFiles.act], [OPS_BOT.id, { sub: REPORTS.id, act: { sub: GATEWAY.id } }]);
  });

  it('X9: a third actor where max_chain_depth is 2 (assistant → gateway → report-service) → 400 invalid_request (RFC 8693 §4.1; local policy)', async () => {
    const toReports = issued(await exchange(server, GATEWAY, bob, { audience: REPORTS_TOOL }));
    assert.deepEqual(decodeJwt(toReports).act, { sub: GATEWAY.id, act: { sub: ASSISTANT.id } });
    await refused(exchange(server, REPORTS, toReports), 'invalid_request', /exceed the allowed depth/);
  });

  it('X9: the gateway exchanging its own exchanged token again (a loop, within the depth limit) → 400 invalid_request (RFC 8693 §4.1)', async () => {
    const again = issued(await exchange(server, GATEWAY, bob, { audience: DEMO.gateway }));
    assert.deepEqual(decodeJwt(again).may_act, { sub: GATEWAY.id }, 'so neither X1 nor X8 stops it');
    for (const audience of [FILES, DEMO.gateway]) {
      await refused(exchange(server, GATEWAY, again, { audience }), 'invalid_request', /already acts in this delegation chain/);
    }
  });
});

describe('SECURITY X12, and ID tokens as subjects: no rule, no exchange (RFC 8693 §2.2.2, local policy)', () => {
  const ASSISTANT_API = 'http://127.0.0.1:9420';
  let server: TestIdp;
  let bob: client.TokenEndpointResponse;
  let idToken: string;
  before(async () => {
    server = await startTestIdp({
      mutate: (d) => {
        // batch-job holds the grant type but no rule; the assistant may exchange ID tokens issued to it.
        const grants = ['client_credentials', TOKEN_EXCHANGE];
        d.clients.push({
          client_id: BATCH.id,
          name: 'Batch',
          client_secret: BATCH.secret,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: grants,
        });
        clientOf(d, ASSISTANT.id).grant_types = [...(clientOf(d, ASSISTANT.id).grant_types as string[]), ...grants];
        (d.resource_servers as Record<string, unknown>[]).push({ audience: ASSISTANT_API, name: 'Assistant API', client_id: ASSISTANT.id });
        rules(d).push({
          client: ASSISTANT.id,
          from: [ASSISTANT_API],
          to: [FILES],
          subject_token_types: ['access_token', 'jwt', 'id_token'],
        });
      },
    });
    bob = await login(server, 'bob');
    idToken = bob.id_token ?? assert.fail('no ID token');
  });
  after(() => server.close());

  it('control: the gateway exchanges the same subject token', async () => {
    issued(await exchange(server, GATEWAY, bob.access_token));
  });

  const clients: [string, Service, RegExp][] = [
    ['ops-bot, with neither the grant type nor a rule', OPS_BOT, /grant type/],
    ['a client with the grant type but no exchange rule (deny by default)', BATCH, /may not exchange tokens/],
  ];
  for (const [name, service, why] of clients) {
    it(`X12: ${name} → 400 unauthorized_client (RFC 6749 §5.2; RFC 8693 §2.2.2)`, async () => {
      await refused(exchange(server, service, bob.access_token), 'unauthorized_client', why);
    });
  }

  it('X2 control: an ID token issued to the exchanging client, as id_token, is a subject, and that client is the first actor', async () => {
    const claims = decodeJwt(issued(await exchange(server, ASSISTANT, idToken, { subject_token_type: TYPE.id })));
    assert.deepEqual([claims.sub, claims.aud, claims.act], ['bob', FILES, { sub: ASSISTANT.id }]);
  });

  it('X2: that ID token as access_token or jwt, with a changed signature, or expired → 400 invalid_request (RFC 8693 §2.1)', async () => {
    for (const subject_token_type of [TYPE.access, TYPE.jwt]) {
      await refused(exchange(server, ASSISTANT, idToken, { subject_token_type }), 'invalid_request', INVALID_SUBJECT);
    }
    await refused(exchange(server, ASSISTANT, flipSignature(idToken), { subject_token_type: TYPE.id }), 'invalid_request', INVALID_SUBJECT);
    server.clock.advance((decodeJwt(idToken).exp ?? 0) - server.clock.now() + 1);
    await refused(exchange(server, ASSISTANT, idToken, { subject_token_type: TYPE.id }), 'invalid_request', INVALID_SUBJECT);
  });
});
