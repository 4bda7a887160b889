import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@palisade/core';
import type { Store } from '../store.js';

/**
 * The behaviour every storage adapter must show. SQLite runs it today; the
 * PostgreSQL adapter must pass it unchanged. `open` gets a clock the suite
 * controls, so expiry is tested without waiting.
 */
export function storeSuite(name: string, open: (clock: ManualClock) => Promise<Store>): void {
  describe(`store adapter: ${name}`, () => {
    const clock = new ManualClock(1_800_000_000);
    let store: Store;
    before(async () => {
      store = await open(clock);
    });
    after(async () => {
      await store.close();
    });

    it('round-trips a record with its grant and expiry', async () => {
      assert.equal(await store.insert('grant', 'g1', { sub: 'alice', scope: ['openid'] }, { expiresAt: clock.now() + 60 }), true);
      const found = await store.find<{ sub: string; scope: string[] }>('grant', 'g1');
      assert.deepEqual(found?.value, { sub: 'alice', scope: ['openid'] });
      assert.equal(found?.expiresAt, clock.now() + 60);
      assert.equal(found?.consumedAt, null);
      assert.equal(found?.createdAt, clock.now());
    });

    it('refuses a duplicate insert while the first is live, accepts it once expired', async () => {
      assert.equal(await store.insert('replay', 'jti-1', {}, { expiresAt: clock.now() + 10 }), true);
      assert.equal(await store.insert('replay', 'jti-1', {}, { expiresAt: clock.now() + 10 }), false);
      clock.advance(11);
      assert.equal(await store.insert('replay', 'jti-1', {}, { expiresAt: clock.now() + 10 }), true);
    });

    it('keeps kinds apart: the same id in two kinds is two records', async () => {
      await store.insert('session', 'same', { a: 1 }, { expiresAt: null });
      await store.insert('consent', 'same', { b: 2 }, { expiresAt: null });
      assert.deepEqual((await store.find('session', 'same'))?.value, { a: 1 });
      assert.deepEqual((await store.find('consent', 'same'))?.value, { b: 2 });
    });

    it('hides expired records from find and list', async () => {
      await store.insert('interaction', 'short', { x: 1 }, { expiresAt: clock.now() + 5 });
      assert.ok(await store.find('interaction', 'short'));
      clock.advance(5);
      assert.equal(await store.find('interaction', 'short'), undefined);
      assert.equal(
        (await store.list('interaction')).some((r) => r.id === 'short'),
        false,
      );
    });

    it('consumes exactly once, and still returns the record to later callers', async () => {
      await store.insert('authorization_code', 'c1', { grantId: 'g1' }, { expiresAt: clock.now() + 60, grantId: 'g1' });
      const first = await store.consume('authorization_code', 'c1');
      const second = await store.consume('authorization_code', 'c1');
      assert.equal(first?.first, true);
      assert.equal(second?.first, false);
      assert.equal(second?.record.consumedAt, clock.now());
      assert.equal(await store.consume('authorization_code', 'missing'), undefined);
    });

    it('lets exactly one of many concurrent consumers win', async () => {
      await store.insert('refresh_token', 'r-race', {}, { expiresAt: clock.now() + 60 });
      const results = await Promise.all(Array.from({ length: 8 }, () => store.consume('refresh_token', 'r-race')));
      assert.equal(results.filter((r) => r?.first).length, 1);
    });

    it('does not consume an expired record', async () => {
      await store.insert('pushed_request', 'p1', {}, { expiresAt: clock.now() + 1 });
      clock.advance(2);
      assert.equal(await store.consume('pushed_request', 'p1'), undefined);
    });

    it('upsert replaces the value and keeps the consumption mark', async () => {
      await store.insert('signing_key', 'k1', { status: 'active' }, { expiresAt: null });
      await store.consume('signing_key', 'k1');
      await store.upsert('signing_key', 'k1', { status: 'retired' }, { expiresAt: clock.now() + 600 });
      const found = await store.find<{ status: string }>('signing_key', 'k1');
      assert.equal(found?.value.status, 'retired');
      assert.equal(found?.expiresAt, clock.now() + 600);
      assert.notEqual(found?.consumedAt, null);
    });

    it('deletes a whole grant family and nothing else', async () => {
      const opts = { expiresAt: clock.now() + 60, grantId: 'family' };
      await store.insert('access_token', 'a1', {}, opts);
      await store.insert('refresh_token', 'r1', {}, opts);
      await store.insert('refresh_token', 'r2', {}, opts);
      await store.insert('refresh_token', 'other', {}, { expiresAt: clock.now() + 60, grantId: 'other' });
      assert.equal(await store.deleteByGrant('family'), 3);
      assert.equal(await store.find('refresh_token', 'r2'), undefined);
      assert.ok(await store.find('refresh_token', 'other'));
    });

    it('lists a kind oldest first', async () => {
      await store.insert('signing_key', 'k2', { n: 2 }, { expiresAt: null });
      clock.advance(1);
      await store.insert('signing_key', 'k3', { n: 3 }, { expiresAt: null });
      const ids = (await store.list('signing_key')).map((r) => r.id);
      assert.deepEqual(ids.slice(-2), ['k2', 'k3']);
    });

    it('lists by id prefix exactly (no wildcard meaning for % or _)', async () => {
      await store.insert('grant_link', 'session/s1/g1', {}, { expiresAt: null });
      await store.insert('grant_link', 'session/s1/g2', {}, { expiresAt: null });
      await store.insert('grant_link', 'session/s10/g3', {}, { expiresAt: null });
      await store.insert('grant_link', 'session/%/g4', {}, { expiresAt: null });
      const ids = (await store.list('grant_link', 'session/s1/')).map((r) => r.id);
      assert.deepEqual(ids.sort(), ['session/s1/g1', 'session/s1/g2']);
      assert.equal((await store.list('grant_link', 'session/%')).length, 1);
      assert.equal((await store.list('grant_link')).length, 4);
    });

    it('increments a counter atomically and restarts it once expired', async () => {
      const counts = await Promise.all(Array.from({ length: 10 }, () => store.increment('login_failures', 'bob', clock.now() + 60)));
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal((await store.find<{ count: number }>('login_failures', 'bob'))?.value.count, 10);
      clock.advance(61);
      assert.equal(await store.increment('login_failures', 'bob', clock.now() + 60), 1);
    });

    it('accepts a fractional expiry (a client assertion exp plus skew) and keeps the record until then', async () => {
      assert.equal(await store.insert('replay', 'fractional', {}, { expiresAt: clock.now() + 1.5 }), true);
      clock.advance(1);
      assert.ok(await store.find('replay', 'fractional'));
      clock.advance(1);
      assert.equal(await store.find('replay', 'fractional'), undefined);
    });

    it('sweeps only expired records', async () => {
      await store.insert('session', 'old', {}, { expiresAt: clock.now() + 1 });
      await store.insert('session', 'forever', {}, { expiresAt: null });
      clock.advance(2);
      assert.ok((await store.sweep()) >= 1);
      assert.ok(await store.find('session', 'forever'));
      assert.equal(await store.insert('session', 'old', { again: true }, { expiresAt: null }), true);
    });

    it('delete removes one record', async () => {
      await store.insert('consent', 'alice:assistant', { scope: ['openid'] }, { expiresAt: null });
      await store.delete('consent', 'alice:assistant');
      assert.equal(await store.find('consent', 'alice:assistant'), undefined);
    });

    const link = (prev: string, seq: number, entry: string) => createHash('sha256').update(`${prev}\n${seq}\n${entry}`).digest('hex');
    const genesis = '0'.repeat(64);
    const entry = (n: number, extra: Partial<{ traceId: string; sub: string; event: string }> = {}) => ({
      entry: JSON.stringify({ n }),
      index: {
        time: 1_800_000_000_000 + n,
        event: extra.event ?? 'token.issued',
        traceId: extra.traceId ?? null,
        sub: extra.sub ?? null,
        client: 'c',
        outcome: 'success',
      },
    });

    it('appends audit records as one chain, each linked to the one before', async () => {
      assert.equal((await store.appendAudit([entry(1), entry(2)], link, genesis)).seq, 2);
      const end = await store.appendAudit([entry(3)], link, genesis);
      const rows = await store.readAudit();
      assert.deepEqual(end, { seq: 3, hash: rows[2]?.hash });
      assert.deepEqual(
        rows.map((r) => r.seq),
        [1, 2, 3],
      );
      assert.equal(rows[0]?.prev, genesis);
      for (const [i, row] of rows.entries()) {
        assert.equal(row.hash, link(row.prev, row.seq, row.entry));
        if (i > 0) assert.equal(row.prev, rows[i - 1]?.hash);
      }
    });

    it('racing appends still form one unbroken chain', async () => {
      const before = (await store.readAudit()).length;
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendAudit([entry(100 + i), entry(200 + i)], link, genesis)));
      const rows = await store.readAudit();
      assert.equal(rows.length, before + 40);
      rows.forEach((row, i) => {
        assert.equal(row.seq, i + 1);
        assert.equal(row.prev, i === 0 ? genesis : rows[i - 1]?.hash);
      });
    });

    it('finds audit records by trace, user, event and position', async () => {
      await store.appendAudit(
        [entry(300, { traceId: 't1', sub: 'alice' }), entry(301, { traceId: 't1', event: 'tool.call_denied' })],
        link,
        genesis,
      );
      assert.equal((await store.readAudit({ traceId: 't1' })).length, 2);
      assert.equal((await store.readAudit({ sub: 'alice' })).length, 1);
      assert.equal((await store.readAudit({ traceId: 't1', event: 'tool.call_denied' })).length, 1);
      const all = await store.readAudit();
      const last = all.at(-1)?.seq ?? 0;
      assert.deepEqual(
        (await store.readAudit({ afterSeq: last - 1 })).map((r) => r.seq),
        [last],
      );
      assert.equal((await store.readAudit({ limit: 3 })).length, 3);
      assert.equal((await store.readAudit({ since: 1_800_000_000_000 + 301 })).length, 1);
    });

    it('keeps audit checkpoints, once per position', async () => {
      await store.addAuditCheckpoint({ seq: 2, hash: 'h2', signature: 's2', createdAt: 1 });
      await store.addAuditCheckpoint({ seq: 2, hash: 'other', signature: 'other', createdAt: 2 });
      await store.addAuditCheckpoint({ seq: 1, hash: 'h1', signature: 's1', createdAt: 3 });
      assert.deepEqual(await store.auditCheckpoints(), [
        { seq: 1, hash: 'h1', signature: 's1', createdAt: 3 },
        { seq: 2, hash: 'h2', signature: 's2', createdAt: 1 },
      ]);
    });
  });
}
