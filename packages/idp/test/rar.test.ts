import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OAuthError } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { parseAuthorizationDetails } from '../src/rar/limits.js';
import { Realm } from '../src/realm.js';

const DEMO_FILE = fileURLToPath(new URL('../../../../examples/demo/palisade.yaml', import.meta.url));
const realm = new Realm(parseConfig(parseYaml(readFileSync(DEMO_FILE, 'utf8')), 'demo', {}));
const assistant = realm.clients.get('assistant') ?? assert.fail('assistant');
const opsBot = realm.clients.get('ops-bot') ?? assert.fail('ops-bot');
const alice = realm.usersByName.get('alice') ?? assert.fail('alice');
const bob = realm.usersByName.get('bob') ?? assert.fail('bob');
const FIN = 'http://127.0.0.1:9410/finance';

const q4 = { type: 'file_access', locations: [FIN], actions: ['read'], identifier: 'Q4-report.pdf' };
const payment = {
  type: 'payment_initiation',
  locations: ['http://127.0.0.1:9412'],
  actions: ['initiate', 'status', 'cancel'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Merchant A',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Ref Number Merchant',
};

function refusedWith(fn: () => unknown, description: RegExp): void {
  assert.throws(
    fn,
    (e: OAuthError) => e instanceof OAuthError && e.error === 'invalid_authorization_details' && description.test(e.description),
  );
}

describe('RAR: parsing, type registry, wording and policy (RFC 9396)', () => {
  it('parses a JSON array of typed objects', () => {
    assert.deepEqual(parseAuthorizationDetails(JSON.stringify([q4])), [q4]);
    assert.equal(parseAuthorizationDetails(undefined), undefined);
  });

  const malformed: [string, string, RegExp][] = [
    ['not JSON', '[{', /not valid JSON/],
    ['an object, not an array', JSON.stringify(q4), /must be a JSON array/],
    ['an empty array', '[]', /must not be empty/],
    ['a string element', '["file_access"]', /\[0\] must be an object/],
    ['a null element', '[null]', /\[0\] must be an object/],
    ['an array element', '[[]]', /\[0\] must be an object/],
    ['a missing type', '[{"actions":["read"]}]', /\[0\] must have a string type/],
    ['a numeric type', '[{"type":7}]', /\[0\] must have a string type/],
    ['too deep', `[{"type":"x","a":${'['.repeat(10)}${']'.repeat(10)}}]`, /nested too deeply/],
    ['too large', JSON.stringify([{ type: 'file_access', identifier: 'x'.repeat(9000) }]), /too large/],
    ['too many entries', JSON.stringify(Array.from({ length: 17 }, () => q4)), /too many entries/],
  ];
  for (const [name, raw, description] of malformed) {
    it(`refuses ${name} before any schema work (D2, J2)`, () => refusedWith(() => parseAuthorizationDetails(raw), description));
  }

  it('accepts the article example and RFC 9396 §2 payment example for assistant', () => {
    assert.deepEqual(realm.detailTypes.validate([q4, payment], assistant), [q4, payment]);
  });

  const invalid: [string, unknown, RegExp][] = [
    ['an unknown type (D1)', { type: 'root_access' }, /unknown type/],
    ['an unknown field (D3)', { ...q4, recursive: true }, /not a valid file_access detail/],
    ['actions as a string (D3)', { ...q4, actions: 'read' }, /field actions/],
    ['an action outside the enum (D3)', { ...q4, actions: ['execute'] }, /field actions/],
    ['a location on another host (D3)', { ...q4, locations: ['http://evil.example/finance'] }, /field locations/],
    ['a relative location (D3)', { ...q4, locations: ['/finance'] }, /field locations/],
    ['a path in the identifier (D3)', { ...q4, identifier: '../secrets.txt' }, /field identifier/],
    ['a missing required field (D3)', { type: 'file_access', locations: [FIN] }, /not a valid file_access detail/],
    ['an amount as a JSON number (D3)', { ...payment, instructedAmount: { currency: 'EUR', amount: 123.5 } }, /field instructedAmount/],
    ['a lowercase currency (D3)', { ...payment, instructedAmount: { currency: 'eur', amount: '1.00' } }, /field instructedAmount/],
  ];
  for (const [name, detail, description] of invalid) {
    it(`refuses ${name}, naming the entry but not echoing it`, () =>
      refusedWith(() => realm.detailTypes.validate([detail], assistant), description));
  }

  it('refuses a type the client may not request (RFC 9396 §10): ops-bot and file_access', () => {
    refusedWith(() => realm.detailTypes.validate([q4], opsBot), /may not request this type/);
  });

  it('never echoes attacker-chosen field names or values', () => {
    try {
      realm.detailTypes.validate([{ ...q4, '<script>': 'x' }], assistant);
      assert.fail('accepted');
    } catch (error) {
      assert.doesNotMatch((error as OAuthError).description, /script/);
    }
  });

  it('words a detail through its template and labels, and lists every field verbatim', () => {
    const described = realm.detailTypes.describe(q4);
    assert.equal(described.sentence, 'Read Q4-report.pdf in the Finance share of the File Server');
    assert.deepEqual(described.fields, [
      { name: 'locations', value: FIN },
      { name: 'actions', value: 'read' },
      { name: 'identifier', value: 'Q4-report.pdf' },
    ]);
    assert.equal(
      realm.detailTypes.describe({ type: 'file_access', locations: [FIN], actions: ['read', 'write'] }).sentence,
      'Read and change every file in the Finance share of the File Server',
    );
    assert.equal(
      realm.detailTypes.describe(payment).sentence,
      'Make, check the status of and cancel a payment of EUR 123.50 to Merchant A (DE02100100109307118603)',
    );
  });

  it('policy: group finance may get file_access under finance; engineering may not; nobody outside finance', () => {
    assert.equal(realm.detailPolicy.permits(q4, assistant, alice), true);
    assert.equal(realm.detailPolicy.permits({ ...q4, locations: [`${FIN}/2026/Q4`] }, assistant, alice), true);
    assert.equal(realm.detailPolicy.permits(q4, assistant, bob), false);
    assert.equal(realm.detailPolicy.permits({ ...q4, locations: ['http://127.0.0.1:9410/engineering'] }, assistant, alice), false);
    assert.equal(
      realm.detailPolicy.permits({ ...q4, locations: ['http://127.0.0.1:9410/finance-archive'] }, assistant, alice),
      false,
      'a pattern is not a prefix',
    );
    assert.equal(realm.detailPolicy.permits(q4, assistant, undefined), false, 'group rules never apply without a user');
  });

  it('policy: a type without rules is limited only by schema and client (tool_access for ops-bot)', () => {
    assert.equal(
      realm.detailPolicy.permits(
        { type: 'tool_access', locations: ['http://127.0.0.1:9401/mcp'], actions: ['files.read'] },
        opsBot,
        undefined,
      ),
      true,
    );
  });
});

describe('RAR wording never hides a field', () => {
  it('arrays of objects are listed with indexes, never as [object Object]; labels come from own properties only', () => {
    const custom = new Realm(
      parseConfig(
        {
          ...parseYaml(readFileSync(DEMO_FILE, 'utf8')),
          authorization_details_types: {
            batch_payment: {
              description: 'x',
              template: 'pay {accounts} via {actions}',
              fields: {
                actions: { type: 'array', items: { type: 'string' } },
                accounts: {
                  type: 'array',
                  items: { type: 'object', properties: { iban: { type: 'string' } }, additionalProperties: false },
                },
              },
            },
          },
          clients: [],
          authorization_details_policy: [],
          token_exchange: { rules: [] },
          resource_servers: [],
        },
        'custom',
        {},
      ),
    );
    const described = custom.detailTypes.describe({
      type: 'batch_payment',
      actions: ['constructor'],
      accounts: [{ iban: 'DE02' }, { iban: 'FR76' }],
    });
    assert.equal(described.sentence, 'Pay {"iban":"DE02"} and {"iban":"FR76"} via constructor');
    assert.deepEqual(described.fields, [
      { name: 'actions', value: 'constructor' },
      { name: 'accounts[0].iban', value: 'DE02' },
      { name: 'accounts[1].iban', value: 'FR76' },
    ]);
  });
});
