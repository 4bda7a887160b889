import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type AuthorizationDetail, covers, coversAll, sameDetail, withinGrant } from '../src/rar/index.js';

const FIN = 'http://127.0.0.1:9410/finance';
const ENG = 'http://127.0.0.1:9410/engineering';

/** Arbitrary authorization details: a few types, the common fields, a nested type-specific object. */
const word = fc.string({ minLength: 1, maxLength: 8 });
const detail: fc.Arbitrary<AuthorizationDetail> = fc.record(
  {
    type: fc.constantFrom('file_access', 'payment_initiation', 'tool_access'),
    locations: fc.uniqueArray(fc.webUrl(), { minLength: 1, maxLength: 3 }),
    actions: fc.uniqueArray(word, { minLength: 1, maxLength: 4 }),
    datatypes: fc.uniqueArray(word, { maxLength: 3 }),
    identifier: word,
    instructedAmount: fc.record({ currency: fc.constantFrom('EUR', 'USD'), amount: fc.stringMatching(/^[0-9]{1,4}\.[0-9]{2}$/) }),
  },
  { requiredKeys: ['type'] },
);

/** A narrower copy: drops elements of set fields (keeping at least one), never touches other fields. */
function narrowed(d: AuthorizationDetail, keep: number): AuthorizationDetail {
  const out: Record<string, unknown> = { ...d };
  for (const field of ['locations', 'actions', 'datatypes'] as const) {
    const values = d[field];
    if (values && values.length > 1) out[field] = values.slice(0, Math.max(1, keep % values.length));
  }
  return out as AuthorizationDetail;
}

describe('covers(granted, required): exact, case-sensitive, no normalisation (RFC 9396 §2)', () => {
  describe('properties', () => {
    it('every detail covers itself', () => {
      fc.assert(fc.property(detail, (d) => covers([d], d)));
    });

    it('a grant covers any narrowing of itself (fewer locations, actions, datatypes)', () => {
      fc.assert(fc.property(detail, fc.nat(), (d, keep) => covers([d], narrowed(d, keep))));
    });

    it('a requirement may be more specific than the grant: fields the grant leaves out are not restricted', () => {
      fc.assert(
        fc.property(detail, word, (d, identifier) => {
          const { identifier: _dropped, ...grant } = d;
          return covers([grant as AuthorizationDetail], { ...d, identifier });
        }),
      );
    });

    it('a requirement silent on a field the grant restricts is not covered', () => {
      fc.assert(
        fc.property(detail, (d) => {
          fc.pre(d.identifier !== undefined);
          const { identifier: _dropped, ...required } = d;
          return !covers([d], required as AuthorizationDetail);
        }),
      );
    });

    it('adding an element the grant lacks to any set field breaks coverage', () => {
      fc.assert(
        fc.property(detail, fc.constantFrom('locations', 'actions', 'datatypes'), word, (d, field, extra) => {
          const values = d[field];
          fc.pre(values !== undefined && !values.includes(`${extra}!`));
          return !covers([d], { ...d, [field]: [...values, `${extra}!`] });
        }),
      );
    });

    it('changing the case of the identifier breaks coverage', () => {
      fc.assert(
        fc.property(detail, (d) => {
          fc.pre(d.identifier !== undefined && d.identifier.toUpperCase() !== d.identifier);
          return !covers([d], { ...d, identifier: d.identifier?.toUpperCase() });
        }),
      );
    });

    it('another type is never covered', () => {
      fc.assert(fc.property(detail, (d) => !covers([d], { ...d, type: `${d.type}_other` })));
    });

    it('more grants never cover less (monotonic in granted)', () => {
      fc.assert(
        fc.property(
          fc.array(detail, { maxLength: 4 }),
          detail,
          detail,
          (granted, extra, required) => !covers(granted, required) || covers([...granted, extra], required),
        ),
      );
    });

    it('nested objects compare whole: any change to the amount breaks coverage', () => {
      fc.assert(
        fc.property(detail, fc.stringMatching(/^[0-9]{1,4}\.[0-9]{2}$/), (d, amount) => {
          fc.pre(d.instructedAmount !== undefined && amount !== (d.instructedAmount as { amount: string }).amount);
          return !covers([d], { ...d, instructedAmount: { ...(d.instructedAmount as object), amount } });
        }),
      );
    });
  });

  describe('examples', () => {
    const financeRead: AuthorizationDetail = { type: 'file_access', locations: [FIN], actions: ['read'] };

    it('the article example: read Q4-report.pdf in finance is covered by read in finance', () => {
      assert.equal(covers([financeRead], { type: 'file_access', locations: [FIN], actions: ['read'], identifier: 'Q4-report.pdf' }), true);
    });

    it('write is not covered by read; engineering not by finance', () => {
      assert.equal(covers([financeRead], { type: 'file_access', locations: [FIN], actions: ['write'] }), false);
      assert.equal(covers([financeRead], { type: 'file_access', locations: [ENG], actions: ['read'] }), false);
    });

    it('no normalisation: trailing slash, case, percent-encoding, decimal form, Unicode form', () => {
      assert.equal(covers([financeRead], { ...financeRead, locations: [`${FIN}/`] }), false);
      assert.equal(covers([financeRead], { ...financeRead, locations: [FIN.toUpperCase()] }), false);
      assert.equal(covers([financeRead], { ...financeRead, actions: ['Read'] }), false);
      assert.equal(covers([{ ...financeRead, identifier: 'Q4 report.pdf' }], { ...financeRead, identifier: 'Q4%20report.pdf' }), false);
      const pay = { type: 'payment_initiation', instructedAmount: { currency: 'EUR', amount: '123.50' } };
      assert.equal(covers([pay], { ...pay, instructedAmount: { currency: 'EUR', amount: '123.5' } }), false);
      assert.equal(covers([{ ...financeRead, identifier: 'caf\u00e9.pdf' }], { ...financeRead, identifier: 'cafe\u0301.pdf' }), false);
    });

    it('details are never combined: a location from one grant and an action from another cover nothing', () => {
      const granted: AuthorizationDetail[] = [
        { type: 'file_access', locations: [FIN], actions: ['read'] },
        { type: 'file_access', locations: [ENG], actions: ['write'] },
      ];
      assert.equal(covers(granted, { type: 'file_access', locations: [FIN], actions: ['write'] }), false);
      assert.equal(covers(granted, { type: 'file_access', locations: [ENG], actions: ['write'] }), true);
    });

    it('a requirement asking for two actions needs one grant holding both', () => {
      assert.equal(covers([{ ...financeRead, actions: ['read', 'write'] }], { ...financeRead, actions: ['write', 'read'] }), true);
      assert.equal(covers([financeRead, { ...financeRead, actions: ['write'] }], { ...financeRead, actions: ['read', 'write'] }), false);
    });

    it('nothing granted covers nothing; coversAll needs every requirement', () => {
      assert.equal(covers([], financeRead), false);
      assert.equal(coversAll([financeRead], []), true);
      assert.equal(coversAll([financeRead], [financeRead, { ...financeRead, actions: ['delete'] }]), false);
    });

    it('a tools.access-style grant without details covers no tool action', () => {
      assert.equal(covers([], { type: 'tool_access', locations: ['http://127.0.0.1:9401/mcp'], actions: ['files.read'] }), false);
    });
  });
});

describe('withinGrant (token-endpoint narrowing) and sameDetail (remembered consent)', () => {
  const pay = {
    type: 'payment_initiation',
    actions: ['initiate'],
    instructedAmount: { currency: 'EUR', amount: '123.50' },
    creditorName: 'Merchant A',
  };

  it('a narrower request adding only common fields is within the grant', () => {
    const grant: AuthorizationDetail = { type: 'file_access', locations: [FIN], actions: ['read', 'write'] };
    assert.equal(withinGrant([grant], [{ ...grant, actions: ['read'], identifier: 'Q4-report.pdf' }]), true);
  });

  it('a request adding a type-specific field the grant lacks is not (content nobody approved)', () => {
    assert.equal(covers([pay], { ...pay, remittanceInformationUnstructured: 'pay me twice' }), true, 'covers alone would allow it');
    assert.equal(withinGrant([pay], [{ ...pay, remittanceInformationUnstructured: 'pay me twice' }]), false);
  });

  it('sameDetail is exact structural equality, key order aside', () => {
    const reordered = { creditorName: pay.creditorName, instructedAmount: pay.instructedAmount, actions: pay.actions, type: pay.type };
    assert.equal(sameDetail(pay, reordered), true);
    assert.equal(sameDetail(pay, { ...pay, actions: ['initiate', 'status'] }), false);
    assert.equal(sameDetail({ ...pay, actions: ['initiate'] }, { ...pay, instructedAmount: { currency: 'EUR', amount: '123.5' } }), false);
  });
});
