import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '@palisade/core';
import pg from 'pg';
import { MIGRATIONS, PostgresStore } from '../src/postgres.js';
import { testDatabase } from '../src/testing/postgres.js';
import { storeSuite } from '../src/testing/suite.js';

/**
 * The shared suite and the cross-node races on the machine's PostgreSQL
 * (127.0.0.1:5432, database `test`, or PALISADE_TEST_DATABASE_URL). Each run
 * works in a schema of its own, dropped afterwards. Without PostgreSQL the
 * file prints one SKIP line; under CI=true a missing database is a failure.
 */
const { unavailable, url, schema, drop } = await testDatabase('palisade_test');

/** A pool that works inside this run's schema: one per simulated node. */
const node = (clock: ManualClock, migrate = true) =>
  PostgresStore.connect({ connectionString: url, options: `-c search_path=${schema}` }, { clock, migrate });

describe('PostgreSQL store', { skip: unavailable }, () => {
  after(drop);

  storeSuite('postgres', (clock) => node(clock));

  describe('two nodes on one database (issue 10)', () => {
    const clock = new ManualClock(1_900_000_000);
    let nodeA: PostgresStore;
    let nodeB: PostgresStore;
    before(async () => {
      [nodeA, nodeB] = await Promise.all([node(clock), node(clock)]);
    });
    after(async () => {
      await Promise.all([nodeA.close(), nodeB.close()]);
    });

    for (const kind of ['authorization_code', 'pushed_request', 'refresh_token'] as const) {
      it(`a ${kind} is redeemed exactly once when both nodes race, 20 times over`, async () => {
        for (let round = 0; round < 20; round++) {
          const id = `${kind}-${round}`;
          await nodeA.insert(kind, id, { round }, { expiresAt: clock.now() + 60 });
          const results = await Promise.all([nodeA, nodeB, nodeA, nodeB].map((store) => store.consume(kind, id)));
          assert.equal(results.filter((r) => r?.first).length, 1, `round ${round}`);
        }
      });
    }

    it('a replay-cache jti is accepted once across nodes', async () => {
      const results = await Promise.all(
        [nodeA, nodeB, nodeA, nodeB].map((store) =>
          store.insert('replay', 'client_assertion:x:jti-1', {}, { expiresAt: clock.now() + 60 }),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('the lockout counter counts every attempt across nodes', async () => {
      const counts = await Promise.all(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? nodeA : nodeB).increment('login_failures', 'password/bob', clock.now() + 300)),
      );
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: 12 }, (_, i) => i + 1),
      );
    });

    it('the audit tables refuse UPDATE, DELETE and TRUNCATE (append-only in the database itself)', async () => {
      await nodeA.appendAudit(
        [{ entry: '{"n":1}', index: { time: 1, event: 'token.issued', traceId: null, sub: null, client: null, outcome: 'success' } }],
        (prev, seq, entry) => `${prev}${seq}${entry}`,
        'g',
      );
      const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await client.connect();
      try {
        for (const statement of [
          `UPDATE palisade_audit SET entry = '{"n":2}'`,
          'DELETE FROM palisade_audit',
          'TRUNCATE palisade_audit',
          'DELETE FROM palisade_audit_checkpoints',
        ]) {
          await assert.rejects(client.query(statement), /append-only/, statement);
        }
      } finally {
        await client.end();
      }
    });

    it('migrations run once even when nodes start together', async () => {
      const more = await Promise.all([node(clock), node(clock), node(clock)]);
      const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
      await client.connect();
      const { rows } = await client.query<{ version: number }>('SELECT version FROM palisade_migrations ORDER BY version');
      await client.end();
      await Promise.all(more.map((store) => store.close()));
      assert.deepEqual(
        rows.map((row) => row.version),
        MIGRATIONS.map((migration) => migration.version),
        'each migration once',
      );
    });
  });
});
