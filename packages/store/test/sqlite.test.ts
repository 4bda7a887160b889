import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { ManualClock } from '@palisade/core';
import { SqliteStore } from '../src/sqlite.js';
import { storeSuite } from '../src/testing/suite.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

storeSuite('sqlite (file)', async (clock) => new SqliteStore(join(dir, 'suite.db'), clock));

it('sqlite: records survive closing and reopening the file', async () => {
  const clock = new ManualClock();
  const file = join(dir, 'restart.db');
  const first = new SqliteStore(file, clock);
  await first.insert('refresh_token', 'h1', { grantId: 'g' }, { expiresAt: clock.now() + 100, grantId: 'g' });
  await first.close();
  const second = new SqliteStore(file, clock);
  assert.deepEqual((await second.find('refresh_token', 'h1'))?.value, { grantId: 'g' });
  await second.close();
});

it('sqlite: the data directory is 0700 and the database 0600, even when the directory already existed', async () => {
  const { mkdirSync, statSync } = await import('node:fs');
  const existing = join(dir, 'loose');
  mkdirSync(existing, { mode: 0o755 });
  const store = new SqliteStore(join(existing, 'palisade.db'));
  await store.insert('signing_key', 'k', { privateJwk: 'secret' }, { expiresAt: null });
  assert.equal(statSync(existing).mode & 0o777, 0o700);
  assert.equal(statSync(join(existing, 'palisade.db')).mode & 0o777, 0o600);
  assert.equal(statSync(join(existing, 'palisade.db-wal')).mode & 0o777, 0o600);
  await store.close();
});
