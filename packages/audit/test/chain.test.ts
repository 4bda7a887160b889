import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CompactSign, createLocalJWKSet, exportJWK, generateKeyPair, type JWTVerifyGetKey } from 'jose';
import { CHECKPOINT_TYPE, type ChainRecord, type Checkpoint, canonicalJson, chainHash, GENESIS, verifyChain } from '../src/index.js';

const ISSUER = 'https://idp.example';

describe('canonical JSON (RFC 8785 member order)', () => {
  it('sorts members at every depth, drops undefined, keeps arrays in order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: 'x' }, z: undefined }), '{"a":{"c":"x","d":[3,1]},"b":1}');
    assert.equal(canonicalJson({ b: 1, a: 2 }), canonicalJson({ a: 2, b: 1 }));
  });
});

describe('the audit chain and its verification', () => {
  let sign: (seq: number, hash: string) => Promise<string>;
  let keys: JWTVerifyGetKey;
  let otherSign: (seq: number, hash: string) => Promise<string>;

  before(async () => {
    const signer = async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: Math.random().toString(36).slice(2), alg: 'ES256' };
      const fn = (seq: number, hash: string) =>
        new CompactSign(new TextEncoder().encode(JSON.stringify({ iss: ISSUER, seq, hash, iat: 1 })))
          .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: CHECKPOINT_TYPE })
          .sign(privateKey);
      return { fn, jwk };
    };
    const ours = await signer();
    sign = ours.fn;
    keys = createLocalJWKSet({ keys: [ours.jwk] });
    otherSign = (await signer()).fn;
  });

  /** Ten records, checkpoints after 5 and 10. */
  async function chain(): Promise<{ records: ChainRecord[]; checkpoints: Checkpoint[] }> {
    const records: ChainRecord[] = [];
    let prev = GENESIS;
    for (let seq = 1; seq <= 10; seq++) {
      const entry = canonicalJson({ event: 'token.issued', seq });
      const hash = chainHash(prev, seq, entry);
      records.push({ seq, entry, prev, hash });
      prev = hash;
    }
    const checkpoints = await Promise.all(
      [5, 10].map(async (seq) => ({ seq, hash: records[seq - 1]?.hash ?? '', signature: await sign(seq, records[seq - 1]?.hash ?? '') })),
    );
    return { records, checkpoints };
  }

  /** Rehashes records from index `from` on, as an attacker covering an edit would. */
  function rehash(records: ChainRecord[], from: number): ChainRecord[] {
    const out = records.slice(0, from);
    let prev = out.at(-1)?.hash ?? GENESIS;
    for (const record of records.slice(from)) {
      const hash = chainHash(prev, record.seq, record.entry);
      out.push({ ...record, prev, hash });
      prev = hash;
    }
    return out;
  }

  it('control: an intact chain verifies, every checkpoint checked', async () => {
    const { records, checkpoints } = await chain();
    assert.deepEqual(await verifyChain(records, checkpoints, keys, ISSUER), { ok: true, records: 10, checkpoints: 2 });
  });

  it('an edited record is named', async () => {
    const { records, checkpoints } = await chain();
    records[2] = { ...(records[2] as ChainRecord), entry: canonicalJson({ event: 'token.issued', seq: 3, sub: 'mallory' }) };
    assert.deepEqual((await verifyChain(records, checkpoints, keys, ISSUER)).problem?.seq, 3);
    assert.equal((await verifyChain(records, checkpoints, keys, ISSUER)).problem?.kind, 'edited');
  });

  it('a deleted record is named', async () => {
    const { records, checkpoints } = await chain();
    records.splice(3, 1);
    assert.deepEqual((await verifyChain(records, checkpoints, keys, ISSUER)).problem, {
      seq: 4,
      kind: 'missing',
      message: 'record 4 is missing (deleted)',
    });
  });

  it('a deleted record with the rest renumbered is found where the chain breaks', async () => {
    const { records, checkpoints } = await chain();
    const renumbered = [...records.slice(0, 3), ...records.slice(4).map((r) => ({ ...r, seq: r.seq - 1 }))];
    const report = await verifyChain(renumbered, checkpoints, keys, ISSUER);
    assert.deepEqual([report.problem?.seq, report.problem?.kind], [4, 'out_of_place']);
  });

  it('two records swapped are found at the first of them', async () => {
    const { records, checkpoints } = await chain();
    const [six, seven] = [records[5] as ChainRecord, records[6] as ChainRecord];
    records[5] = { ...seven, seq: 6 };
    records[6] = { ...six, seq: 7 };
    const report = await verifyChain(records, checkpoints, keys, ISSUER);
    assert.deepEqual([report.problem?.seq, report.problem?.kind], [6, 'out_of_place']);
  });

  it('an inserted record is found where it breaks the chain', async () => {
    const { records, checkpoints } = await chain();
    const forged = { seq: 8, entry: canonicalJson({ event: 'tool.call_allowed', forged: true }), prev: records[6]?.hash ?? '', hash: '' };
    forged.hash = chainHash(forged.prev, forged.seq, forged.entry);
    const inserted = [...records.slice(0, 7), forged, ...records.slice(7).map((r) => ({ ...r, seq: r.seq + 1 }))];
    const report = await verifyChain(inserted, checkpoints, keys, ISSUER);
    assert.deepEqual([report.problem?.seq, report.problem?.kind], [9, 'out_of_place']);
  });

  it('an edit covered by rehashing the rest is caught by the next checkpoint', async () => {
    const { records, checkpoints } = await chain();
    records[1] = { ...(records[1] as ChainRecord), entry: canonicalJson({ event: 'token.issued', seq: 2, sub: 'mallory' }) };
    const report = await verifyChain(rehash(records, 1), checkpoints, keys, ISSUER);
    assert.deepEqual([report.problem?.seq, report.problem?.kind], [5, 'bad_checkpoint']);
  });

  it('a truncated tail behind a checkpoint is reported', async () => {
    const { records, checkpoints } = await chain();
    const report = await verifyChain(records.slice(0, 7), checkpoints, keys, ISSUER);
    assert.deepEqual([report.problem?.seq, report.problem?.kind], [8, 'truncated']);
  });

  it('a checkpoint signed by another key, for another issuer, or altered is refused', async () => {
    const { records, checkpoints } = await chain();
    const foreign = [{ ...(checkpoints[0] as Checkpoint), signature: await otherSign(5, records[4]?.hash ?? '') }];
    assert.equal((await verifyChain(records, foreign, keys, ISSUER)).problem?.kind, 'bad_checkpoint');
    assert.equal((await verifyChain(records, checkpoints, keys, 'https://other.example')).problem?.kind, 'bad_checkpoint');
    const altered = [{ ...(checkpoints[0] as Checkpoint), hash: records[3]?.hash ?? '' }];
    assert.equal((await verifyChain(records, altered, keys, ISSUER)).problem?.kind, 'bad_checkpoint');
  });
});
