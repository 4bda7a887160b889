/**
 * SECURITY.md "RAR" (D1–D5) and "Refresh" R5 over real HTTP against the demo
 * realm: `authorization_details` (RFC 9396) at the PAR endpoint, the
 * authorization endpoint, client_credentials and refresh. PAR itself (P1–P9)
 * is in security-par.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { authorizeInBrowser, ScriptedBrowser } from '../helpers/browser.js';
import { basic, expectError, field, post, type Reply } from '../helpers/http.js';
import { type ConfigDocument, DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

type Detail = Readonly<Record<string, unknown>>;

const ASSISTANT = basic(DEMO.assistant.id, DEMO.assistant.secret);
const OPS_BOT = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
const VERIFIER = 'palisade-security-rar-test-verifier-0123456789-abcdefgh';
const STATE = 'st-rar-4Kd';
const CLI_REDIRECT = 'http://127.0.0.1/callback';
const FINANCE = 'http://127.0.0.1:9410/finance';
const ENGINEERING = 'http://127.0.0.1:9410/engineering';
const Q4: Detail = { type: 'file_access', locations: [FINANCE], actions: ['read'], identifier: 'Q4-report.pdf' };
/** RFC 9396 §2's example, in the demo realm's shape. */
const PAYMENT: Detail = {
  type: 'payment_initiation',
  locations: ['http://127.0.0.1:9412'],
  actions: ['initiate', 'status', 'cancel'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Merchant A',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Ref Number Merchant',
};
const TOOL: Detail = { type: 'tool_access', locations: [DEMO.gateway], actions: ['files.read'] };

const json = (value: unknown): string => JSON.stringify(value);
const without = (detail: Detail, name: string): Detail => Object.fromEntries(Object.entries(detail).filter(([key]) => key !== name));
const get = (url: URL, init: RequestInit = {}): Promise<Response> => fetch(url, { redirect: 'manual', ...init });

/** A valid authorization request of the assistant (or, with client_id, of palisade-cli), without details. */
function requestParams(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    response_type: 'code',
    redirect_uri: DEMO.assistant.redirectUri,
    scope: 'openid',
    state: STATE,
    code_challenge: createHash('sha256').update(VERIFIER).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** Pushes the assistant's request with these details; returns the front-channel URL. */
async function pushDetails(issuer: string, details: readonly Detail[]): Promise<URL> {
  const reply = await post(`${issuer}/par`, requestParams({ authorization_details: json(details) }), ASSISTANT);
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  const url = new URL('/authorize', issuer);
  url.search = new URLSearchParams({ client_id: DEMO.assistant.id, request_uri: field(reply, 'request_uri') }).toString();
  return url;
}

/** The browser came back to the client with `error`, the state and iss (RFC 9207), and no code. */
function expectErrorCallback(callback: URL, issuer: string, error: string, redirectUri: string = DEMO.assistant.redirectUri): void {
  assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
  assert.deepEqual(
    { error: callback.searchParams.get('error'), state: callback.searchParams.get('state'), iss: callback.searchParams.getAll('iss') },
    { error, state: STATE, iss: [issuer] },
  );
  assert.equal(callback.searchParams.has('code'), false);
}

interface BadInput {
  readonly row: 'D1' | 'D2' | 'D3';
  readonly name: string;
  readonly raw: string;
  /** The public error_description, so each row is known to fail for its own reason. */
  readonly why: RegExp;
}

/** Inputs every type must refuse, built from a valid detail of a type the client may request. */
function malformed(valid: Detail): BadInput[] {
  const type = String(valid.type);
  const invalid = new RegExp(`is not a valid ${type} detail`);
  const bad = (row: BadInput['row'], name: string, raw: string, why: RegExp = invalid): BadInput => ({ row, name, raw, why });
  return [
    bad('D1', 'an unknown type', json([{ ...valid, type: 'bank_transfer' }]), /unknown type/),
    bad('D1', 'a known type in upper case', json([{ ...valid, type: type.toUpperCase() }]), /unknown type/),
    bad('D1', 'an inherited property name as type', json([{ ...valid, type: 'constructor' }]), /unknown type/),
    bad('D2', 'text that is not JSON', json([valid]).slice(0, -2), /not valid JSON/),
    bad('D2', 'a JSON object instead of an array', json(valid), /must be a JSON array/),
    bad('D2', 'a JSON string holding the array', json(json([valid])), /must be a JSON array/),
    bad('D2', 'an empty array', '[]', /must not be empty/),
    bad('D2', 'a string element', json([type]), /\[0\] must be an object/),
    bad('D2', 'a null element', '[null]', /\[0\] must be an object/),
    bad('D2', 'an array element', json([[valid]]), /\[0\] must be an object/),
    bad('D2', 'a valid element then a number', json([valid, 42]), /\[1\] must be an object/),
    bad('D2', 'an element without type', json([without(valid, 'type')]), /\[0\] must have a string type/),
    bad('D2', 'a numeric type', json([{ ...valid, type: 7 }]), /\[0\] must have a string type/),
    bad('D2', 'an array as type', json([{ ...valid, type: [type] }]), /\[0\] must have a string type/),
    bad('D2', 'nesting deeper than 6 levels', json([{ ...valid, datatypes: [[[[[['x']]]]]] }]), /nested too deeply/),
    bad('D2', 'more than 8192 characters', json([{ ...valid, identifier: 'x'.repeat(8200) }]), /too large/),
    bad('D2', '17 entries (at most 16)', json(Array.from({ length: 17 }, () => valid)), /too many entries/),
    bad('D3', 'an unknown field', json([{ ...valid, scope: 'admin' }])),
    bad('D3', 'a common field the type does not declare (privileges)', json([{ ...valid, privileges: ['admin'] }])),
    bad('D3', 'actions as a string', json([{ ...valid, actions: 'read' }]), /field actions/),
    bad('D3', 'locations as a string', json([{ ...valid, locations: FINANCE }]), /field locations/),
    bad('D3', 'an empty actions list', json([{ ...valid, actions: [] }]), /field actions/),
    bad('D3', 'a repeated action', json([{ ...valid, actions: ['x', 'x'] }]), /field actions/),
    bad('D3', 'a location that is not a URI', json([{ ...valid, locations: ['not a uri'] }]), /field locations/),
    bad('D3', 'a location on another host', json([{ ...valid, locations: ['https://evil.example/finance'] }]), /field locations/),
    bad('D3', 'no locations (required)', json([without(valid, 'locations')])),
    bad('D3', 'no actions (required)', json([without(valid, 'actions')])),
  ];
}

/** Field values only one type refuses. */
function invalidValues(valid: Detail, cases: readonly (readonly [string, string, unknown])[]): BadInput[] {
  return cases.map(([name, key, value]) => ({
    row: 'D3',
    name: `${valid.type} with ${name}`,
    raw: json([value === undefined ? without(valid, key) : { ...valid, [key]: value }]),
    why: new RegExp(`is not a valid ${String(valid.type)} detail`),
  }));
}

const FILE_VALUES = invalidValues(Q4, [
  ['action execute', 'actions', ['execute']],
  ['action Read (case-sensitive)', 'actions', ['Read']],
  ['a location on another port', 'locations', ['http://127.0.0.1:9411/finance']],
  ['a file: location', 'locations', ['file:///etc/passwd']],
  ['an identifier with a slash', 'identifier', '../salaries.xlsx'],
  ['an identifier with a backslash', 'identifier', '..\\salaries.xlsx'],
  ['an empty identifier', 'identifier', ''],
]);
const PAYMENT_VALUES = invalidValues(PAYMENT, [
  ['the amount as a JSON number', 'instructedAmount', { currency: 'EUR', amount: 123.5 }],
  ['a lower-case currency', 'instructedAmount', { currency: 'eur', amount: '123.50' }],
  ['three decimals', 'instructedAmount', { currency: 'EUR', amount: '123.505' }],
  ['a negative amount', 'instructedAmount', { currency: 'EUR', amount: '-123.50' }],
  ['no currency', 'instructedAmount', { amount: '123.50' }],
  ['an unknown field in instructedAmount', 'instructedAmount', { currency: 'EUR', amount: '123.50', fee: '0' }],
  ['a malformed IBAN', 'creditorAccount', { iban: 'de02 1001' }],
  ['action refund', 'actions', ['refund']],
  ['the HR service as location', 'locations', ['http://127.0.0.1:9413']],
  ['no creditorAccount (required)', 'creditorAccount', undefined],
  ['no instructedAmount (required)', 'instructedAmount', undefined],
]);
const TOOL_VALUES = invalidValues(TOOL, [
  ['an unlisted location', 'locations', ['http://127.0.0.1:9414']],
  ['the gateway with a trailing slash', 'locations', [`${DEMO.gateway}/`]],
  ['an action with a space and capitals', 'actions', ['Files Read']],
]);

describe('SECURITY D1–D3: malformed authorization_details at PAR and client_credentials, nothing stored (RFC 9396 §2, §5)', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp();
  });
  after(() => server.close());

  const refused = (reply: Reply, why: RegExp, issued: string): void => {
    expectError(reply, 400, 'invalid_authorization_details');
    assert.match(String(reply.body.error_description), why);
    assert.equal(reply.body[issued], undefined, `no ${issued}: nothing stored`);
    assert.equal(reply.headers.get('cache-control'), 'no-store');
  };

  for (const input of [...malformed(Q4), ...FILE_VALUES, ...PAYMENT_VALUES]) {
    it(`${input.row}: PAR refuses authorization_details with ${input.name} → 400 invalid_authorization_details (RFC 9396 §5)`, async () => {
      const reply = await post(`${server.issuer}/par`, requestParams({ authorization_details: input.raw }), ASSISTANT);
      refused(reply, input.why, 'request_uri');
    });
  }

  for (const input of [...malformed(TOOL), ...TOOL_VALUES]) {
    it(`${input.row}: client_credentials refuses authorization_details with ${input.name} → 400 invalid_authorization_details (RFC 9396 §5, §6)`, async () => {
      const reply = await post(`${server.issuer}/token`, { grant_type: 'client_credentials', authorization_details: input.raw }, OPS_BOT);
      refused(reply, input.why, 'access_token');
    });
  }

  it('D3: every valid shape passes, up to exactly 16 entries, so the refusals above are the checks themselves (RFC 9396 §2)', async () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ ...Q4, identifier: `report-${i}.pdf` }));
    for (const details of [[Q4], [PAYMENT], [TOOL], [Q4, PAYMENT, TOOL], sixteen]) {
      const reply = await post(`${server.issuer}/par`, requestParams({ authorization_details: json(details) }), ASSISTANT);
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
    const reply = await post(`${server.issuer}/token`, { grant_type: 'client_credentials', authorization_details: json([TOOL]) }, OPS_BOT);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.authorization_details, [TOOL]);
  });
});

describe('SECURITY D4–D5: detail policy per client and group, and no details in the front channel (RFC 9396 §6, §12)', () => {
  let server: TestIdp;
  let alice: ScriptedBrowser;
  before(async () => {
    server = await startTestIdp();
    alice = new ScriptedBrowser(server.issuer);
  });
  after(() => server.close());

  /** alice keeps one SSO session; her first login needs a TOTP code of a step not used before. */
  function asAlice(url: URL, seen: string[] = [], consent: 'allow' | 'deny' = 'allow'): Promise<URL> {
    server.clock.advance(30);
    return authorizeInBrowser(alice, url, { ...DEMO.alice, now: server.clock.now(), consent }, seen);
  }

  it('D4: bob (group engineering) asks file_access on the finance share → after login, invalid_authorization_details, never a consent page (RFC 9396 §6)', async () => {
    const seen: string[] = [];
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), await pushDetails(server.issuer, [Q4]), DEMO.bob, seen);
    assert.deepEqual(seen, ['login']);
    expectErrorCallback(callback, server.issuer, 'invalid_authorization_details');
  });

  const OUTSIDE: readonly (readonly [string, readonly Detail[]])[] = [
    ['the engineering share', [{ ...Q4, locations: [ENGINEERING] }]],
    ['the finance and the engineering share in one detail', [{ ...Q4, locations: [FINANCE, ENGINEERING] }]],
    ['a finance detail beside an engineering one', [Q4, { ...Q4, locations: [ENGINEERING] }]],
    ['a path that only starts with "finance"', [{ ...Q4, locations: [`${FINANCE}-archive`] }]],
    ['the file server root', [{ ...Q4, locations: ['http://127.0.0.1:9410/'] }]],
  ];
  for (const [name, details] of OUTSIDE) {
    it(`D4: alice (group finance) asks file_access on ${name} → invalid_authorization_details + state + iss (RFC 9396 §6)`, async () => {
      const seen: string[] = [];
      expectErrorCallback(await asAlice(await pushDetails(server.issuer, details), seen), server.issuer, 'invalid_authorization_details');
      assert.equal(seen.includes('consent'), false, 'nobody is asked to approve what policy forbids');
    });
  }

  it('D4: locations that read as inside the finance share but resolve outside it → 400 invalid_authorization_details at PAR, before anyone signs in (RFC 9396 §6; RFC 3986 §5.2.4)', async () => {
    for (const location of [
      `${FINANCE}/../engineering`,
      `${FINANCE}/%2e%2e/engineering`,
      `${FINANCE}/.%2E/engineering`,
      `${FINANCE}\\..\\engineering`,
      `${FINANCE}/./2024`,
    ]) {
      const details = json([{ ...Q4, locations: [location] }]);
      const reply = await post(`${server.issuer}/par`, requestParams({ authorization_details: details }), ASSISTANT);
      expectError(reply, 400, 'invalid_authorization_details');
      assert.equal(reply.body.request_uri, undefined, location);
    }
  });

  it('D4: alice may be asked for file_access under the finance share; declining gives access_denied + state + iss (RFC 9396 §6; OAuth 2.1 §4.1.2.1)', async () => {
    for (const location of [FINANCE, `${FINANCE}/2024/q4`]) {
      const seen: string[] = [];
      const callback = await asAlice(await pushDetails(server.issuer, [{ ...Q4, locations: [location] }]), seen, 'deny');
      assert.equal(seen.at(-1), 'consent');
      expectErrorCallback(callback, server.issuer, 'access_denied');
    }
  });

  it('D4: a client may request only its authorization_details_types: palisade-cli at PAR, ops-bot at /token → 400 invalid_authorization_details (RFC 9396 §5, §10)', async () => {
    // tool_call binds a person's approval to one call: only the gateway's clients may ask for it.
    const approvalBinding = {
      type: 'tool_call',
      locations: [DEMO.gateway],
      actions: ['payments.transfer'],
      arguments_digest: 'A'.repeat(43),
      expires_at: 1,
    };
    const cli = await post(
      `${server.issuer}/par`,
      requestParams({ client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT, authorization_details: json([approvalBinding]) }),
    );
    expectError(cli, 400, 'invalid_authorization_details');
    assert.equal(cli.body.request_uri, undefined);
    for (const details of [[Q4], [PAYMENT], [TOOL, Q4]]) {
      const bot = await post(`${server.issuer}/token`, { grant_type: 'client_credentials', authorization_details: json(details) }, OPS_BOT);
      expectError(bot, 400, 'invalid_authorization_details');
      assert.equal(bot.body.access_token, undefined);
    }
  });

  const FRONT: readonly (readonly [string, Record<string, string>])[] = [
    ['the assistant (PAR required)', {}],
    ['palisade-cli (PAR not required)', { client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT }],
  ];
  for (const [name, params] of FRONT) {
    it(`D5: authorization_details in a front-channel request of ${name} → redirect with invalid_request + state + iss (RFC 9396 §12; RFC 9126 §5)`, async () => {
      const redirectUri = params.redirect_uri ?? DEMO.assistant.redirectUri;
      const query = new URLSearchParams({ client_id: DEMO.assistant.id, ...requestParams(params) });
      for (const raw of [json([TOOL]), json([Q4]), 'not json']) {
        query.set('authorization_details', raw);
        const url = new URL(`/authorize?${query}`, server.issuer);
        for (const response of [await get(url), await get(new URL('/authorize', server.issuer), { method: 'POST', body: query })]) {
          assert.equal(response.status, 303);
          expectErrorCallback(new URL(response.headers.get('location') ?? 'about:none'), server.issuer, 'invalid_request', redirectUri);
        }
      }
    });
  }

  it('D5: palisade-cli without authorization_details is accepted in the front channel, so the refusal above is about the details (RFC 9396 §12)', async () => {
    const query = new URLSearchParams(requestParams({ client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT }));
    const response = await get(new URL(`/authorize?${query}`, server.issuer));
    assert.equal(response.status, 303);
    assert.match(response.headers.get('location') ?? '', /^\/interaction\//);
  });
});

describe('SECURITY D4: policy rules on actions, identifiers and clients (RFC 9396 §6; configured)', () => {
  let server: TestIdp;
  before(async () => {
    server = await startTestIdp({
      mutate: (document: ConfigDocument) => {
        const rules = document.authorization_details_policy as Record<string, unknown>[];
        Object.assign(rules[0] ?? assert.fail('the demo has a finance rule'), { actions: ['read'], identifiers: ['Q*-report.pdf'] });
        rules.push({ type: 'tool_access', clients: [DEMO.opsBot.id], locations: [DEMO.gateway], actions: ['files.*'] });
      },
    });
  });
  after(() => server.close());

  it('D4: alice outside the action or identifier rule → invalid_authorization_details; inside it, the consent page (RFC 9396 §6)', async () => {
    const browser = new ScriptedBrowser(server.issuer);
    const script = { ...DEMO.alice, now: server.clock.now(), consent: 'deny' } as const;
    const cases: readonly (readonly [Detail, string])[] = [
      [{ ...Q4, actions: ['read', 'write'] }, 'invalid_authorization_details'],
      [{ ...Q4, actions: ['delete'] }, 'invalid_authorization_details'],
      [{ ...Q4, identifier: 'salaries.xlsx' }, 'invalid_authorization_details'],
      [without(Q4, 'identifier'), 'invalid_authorization_details'],
      [{ ...Q4, identifier: 'Q1-report.pdf' }, 'access_denied'],
    ];
    for (const [detail, error] of cases) {
      const callback = await authorizeInBrowser(browser, await pushDetails(server.issuer, [detail]), script);
      expectErrorCallback(callback, server.issuer, error);
    }
  });

  it('D4: a rule naming ops-bot bounds its tool_access locations and actions at /token → invalid_authorization_details (RFC 9396 §6)', async () => {
    const request = (detail: Detail) =>
      post(`${server.issuer}/token`, { grant_type: 'client_credentials', authorization_details: json([detail]) }, OPS_BOT);
    for (const detail of [
      { ...TOOL, locations: ['http://127.0.0.1:9413'] },
      { ...TOOL, actions: ['payments.send'] },
      { ...TOOL, actions: ['files.read', 'hr.export'] },
    ])
      expectError(await request(detail), 400, 'invalid_authorization_details');
    assert.equal((await request({ ...TOOL, actions: ['files.read', 'files.list'] })).status, 200);
  });
});

describe('SECURITY R5: refresh may not widen authorization_details (RFC 9396 §6.2)', () => {
  let server: TestIdp;
  let refreshToken: string;
  before(async () => {
    server = await startTestIdp();
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), await pushDetails(server.issuer, [Q4]), {
      ...DEMO.alice,
      now: server.clock.now(),
    });
    const code = callback.searchParams.get('code') ?? assert.fail(`no code in ${callback.href}`);
    const form = { grant_type: 'authorization_code', code, redirect_uri: DEMO.assistant.redirectUri, code_verifier: VERIFIER };
    const reply = await post(`${server.issuer}/token`, form, ASSISTANT);
    assert.deepEqual(reply.body.authorization_details, [Q4]);
    refreshToken = field(reply, 'refresh_token');
  });
  after(() => server.close());

  /** Refreshes (rotating the token on success) and returns the reply. */
  async function refresh(details?: string): Promise<Reply> {
    const form = {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      ...(details === undefined ? {} : { authorization_details: details }),
    };
    const reply = await post(`${server.issuer}/token`, form, ASSISTANT);
    if (reply.status === 200) refreshToken = field(reply, 'refresh_token');
    return reply;
  }

  const WIDER: readonly (readonly [string, unknown])[] = [
    ['a new type (tool_access)', [TOOL]],
    ['the granted detail plus a new type', [Q4, TOOL]],
    ['a new action (write)', [{ ...Q4, actions: ['read', 'write'] }]],
    ['another action instead (delete)', [{ ...Q4, actions: ['delete'] }]],
    ['a new location (engineering)', [{ ...Q4, locations: [ENGINEERING] }]],
    ['an extra location beside finance', [{ ...Q4, locations: [FINANCE, ENGINEERING] }]],
    ['the identifier dropped (every file)', [without(Q4, 'identifier')]],
    ['another identifier', [{ ...Q4, identifier: 'salaries.xlsx' }]],
    ['a differently cased action', [{ ...Q4, actions: ['READ'] }]],
    ['a malformed value (D2 at refresh)', 'not json'],
  ];
  for (const [name, details] of WIDER) {
    it(`R5: refresh asking for ${name} → 400 invalid_authorization_details; the refresh token still works (RFC 9396 §6.2)`, async () => {
      expectError(await refresh(typeof details === 'string' ? details : json(details)), 400, 'invalid_authorization_details');
      const next = await refresh();
      assert.equal(next.status, 200, JSON.stringify(next.body));
      assert.deepEqual(next.body.authorization_details, [Q4], 'the grant is unchanged');
    });
  }

  it('R5: refresh asking for exactly the granted detail → 200 with it in the token response and the JWT (RFC 9396 §6.2, §7)', async () => {
    const reply = await refresh(json([Q4]));
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.deepEqual(reply.body.authorization_details, [Q4]);
    assert.equal(reply.body.scope, 'openid');
    assert.deepEqual(decodeJwt(field(reply, 'access_token')).authorization_details, [Q4]);
  });
});
