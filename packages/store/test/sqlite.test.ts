import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManualClock } from '@palisade/core';
import Database from 'better-sqlite3';
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

it('sqlite: the audit tables refuse UPDATE and DELETE (append-only in the database itself)', async () => {
  const { default: Database } = await import('better-sqlite3');
  const file = join(dir, 'audit.db');
  const store = new SqliteStore(file);
  await store.appendAudit(
    [{ entry: '{"n":1}', index: { time: 1, event: 'token.issued', traceId: null, sub: null, client: null, outcome: 'success' } }],
    (prev, seq, entry) => `${prev}${seq}${entry}`,
    'g',
  );
  await store.addAuditCheckpoint({ seq: 1, hash: 'h', signature: 's', createdAt: 1 });
  await store.close();
  const db = new Database(file);
  assert.throws(() => db.prepare(`UPDATE audit SET entry = '{"n":2}'`).run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit').run(), /append-only/);
  assert.throws(() => db.prepare(`UPDATE audit_checkpoints SET hash = 'x'`).run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_checkpoints').run(), /append-only/);
  db.close();
});

storeSuite(
  'sqlite (file, WAL checkpoints on a worker thread)',
  async (clock) => new SqliteStore(join(dir, 'suite-background.db'), clock, { backgroundCheckpoints: 50 }),
);

storeSuite(
  'sqlite (file, writes on a writer thread, checkpoints on another)',
  async (clock) => new SqliteStore(join(dir, 'suite-writer.db'), clock, { backgroundCheckpoints: 50, writerThread: true }),
);

const link = (prev: string, seq: number, entry: string) => createHash('sha256').update(`${prev}\n${seq}\n${entry}`).digest('hex');
const auditEntry = (n: number) => ({
  entry: JSON.stringify({ n }),
  index: { time: n, event: 'token.issued', traceId: null, sub: null, client: null, outcome: 'success' },
});

/** A row as `importAudit` takes it. */
const row = { seq: 1, entry: '{}', prev: 'p', hash: 'h', time: 1, event: 'e', traceId: null, sub: null, client: null, outcome: 'success' };

/** Every record links to the one before, from `genesis`, and hashes to what it says. */
function assertOneChain(rows: readonly { seq: number; entry: string; prev: string; hash: string }[], genesis: string): void {
  rows.forEach((r, i) => {
    assert.equal(r.seq, i + 1);
    assert.equal(r.prev, i === 0 ? genesis : rows[i - 1]?.hash);
    assert.equal(r.hash, link(r.prev, r.seq, r.entry));
  });
}

it('sqlite: two processes appending to one file with writer threads keep one unbroken chain', async () => {
  const file = join(dir, 'two-writers.db');
  const genesis = '0'.repeat(64);
  const a = new SqliteStore(file, undefined, { writerThread: true });
  const b = new SqliteStore(file, undefined, { writerThread: true });
  // Each believes the chain ends where its own last append left it; the other's appends make that belief stale.
  for (let round = 0; round < 10; round++) {
    await Promise.all([
      a.appendAudit([auditEntry(round * 10 + 1), auditEntry(round * 10 + 2)], link, genesis),
      b.appendAudit([auditEntry(round * 10 + 5)], link, genesis),
    ]);
  }
  const rows = await a.readAudit();
  assert.equal(rows.length, 30);
  assertOneChain(rows, genesis);
  await a.close();
  await b.close();
});

for (const writerThread of [false, true]) {
  const mode = writerThread ? 'on the writer thread' : 'on its own connection';
  it(`sqlite ${mode}: an empty append changes nothing; the first record links to the genesis given with it`, async () => {
    const store = new SqliteStore(join(dir, `genesis-${writerThread}.db`), undefined, { writerThread });
    const genesis = '0'.repeat(64);
    assert.deepEqual(await store.appendAudit([], link, 'f'.repeat(64)), { seq: 0, hash: 'f'.repeat(64) });
    const end = await store.appendAudit([auditEntry(1)], link, genesis);
    const [row] = await store.readAudit();
    assert.equal(row?.prev, genesis);
    assert.deepEqual(end, { seq: 1, hash: link(genesis, 1, auditEntry(1).entry) });
    await store.close();
  });

  it(`sqlite ${mode}: close() waits for the writes issued before it, not for writes that keep coming`, async () => {
    const store = new SqliteStore(join(dir, `close-under-load-${writerThread}.db`), undefined, { writerThread });
    const issued: Promise<boolean>[] = [];
    let n = 0;
    let writing = true;
    const keepWriting = () => {
      if (!writing) return;
      const write = store.insert('session', `s${n++}`, {}, { expiresAt: null });
      write.catch(() => undefined); // looked at below, with allSettled
      issued.push(write);
      setImmediate(keepWriting);
    };
    keepWriting();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = issued.length;
    await store.close();
    writing = false;
    const outcomes = await Promise.allSettled(issued);
    assert.ok(outcomes.slice(0, before).every((o) => o.status === 'fulfilled' && o.value === true));
    assert.ok(outcomes.slice(before).every((o) => o.status === 'rejected' && /the store is closed/.test(String(o.reason))));
  });
}

it('sqlite: a server with a writer thread and a one-shot command on its own connection, appending at once, keep one chain and never fail', async () => {
  const file = join(dir, 'server-and-command.db');
  const genesis = '0'.repeat(64);
  const server = new SqliteStore(file, undefined, { writerThread: true });
  const command = new SqliteStore(file);
  for (let round = 0; round < 20; round++) {
    await Promise.all([
      server.appendAudit([auditEntry(round * 10 + 1)], link, genesis),
      command.appendAudit([auditEntry(round * 10 + 2), auditEntry(round * 10 + 3)], link, genesis),
    ]);
  }
  const rows = await command.readAudit();
  assert.equal(rows.length, 60);
  assertOneChain(rows, genesis);
  await server.close();
  await command.close();
});

it('sqlite: a write that cannot be copied to the writer thread fails alone; the store goes on', async () => {
  const store = new SqliteStore(join(dir, 'uncloneable.db'), undefined, { writerThread: true });
  await assert.rejects(store.importAudit([{ ...row, extra: () => 1 } as typeof row], []), /could not be cloned/);
  assert.equal(await store.insert('session', 's1', {}, { expiresAt: null }), true);
  await store.close();
});

it('sqlite: on the writer thread a write that fails rejects alone and leaves nothing; the rest of its batch commits', async () => {
  const store = new SqliteStore(join(dir, 'writer-failure.db'), undefined, { writerThread: true });
  const [refused, inserted] = await Promise.allSettled([
    // The first row goes in, the second collides with it: the write's savepoint takes the first back out.
    store.importAudit([row, row], []),
    store.insert('session', 's1', { ok: true }, { expiresAt: null }),
  ]);
  assert.equal(refused.status, 'rejected');
  assert.equal((refused as PromiseRejectedResult).reason.code, 'SQLITE_CONSTRAINT_PRIMARYKEY');
  assert.deepEqual(inserted, { status: 'fulfilled', value: true });
  assert.equal((await store.readAudit()).length, 0);
  assert.deepEqual((await store.find('session', 's1'))?.value, { ok: true });
  await store.close();
});

/**
 * Makes the writer thread of the store on `file` die as a crash would, from outside and with no hook in
 * the store: through the inspector, it blocks for `blockMs` (batches sent meanwhile never run), then exits.
 * Resolves once it is blocked, with the inspector session to disconnect afterwards.
 */
async function crashWriterThread(file: string, blockMs: number): Promise<Session> {
  const marker = `${file}.blocked`;
  const expression = `(() => {
    const { workerData } = require('node:worker_threads');
    if (workerData.filename !== ${JSON.stringify(file)}) return;
    require('node:fs').writeFileSync(${JSON.stringify(marker)}, '');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${blockMs});
    process.exit(70);
  })()`;
  const session = new Session();
  session.connect();
  session.on('NodeWorker.attachedToWorker', ({ params }) => {
    if (!params.workerInfo.url.endsWith('/sqlite-writer.js')) return;
    const evaluate = { id: 1, method: 'Runtime.evaluate', params: { expression, includeCommandLineAPI: true } };
    session.post('NodeWorker.sendMessageToWorker', { sessionId: params.sessionId, message: JSON.stringify(evaluate) });
  });
  session.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  while (!existsSync(marker)) await sleep(5);
  return session;
}

it('sqlite: a writer thread that dies fails the batch it held as of unknown outcome; the store carries on on its own connection', {
  timeout: 20_000,
}, async () => {
  const file = join(dir, 'writer-lost.db');
  const genesis = '0'.repeat(64);
  const store = new SqliteStore(file, undefined, { writerThread: true });
  assert.equal(await store.insert('session', 'before', {}, { expiresAt: null }), true);
  await store.appendAudit([auditEntry(1)], link, genesis);
  const session = await crashWriterThread(file, 1000);
  try {
    // Sent to a thread that never runs it: the store cannot know whether it was committed, and says so.
    await assert.rejects(store.insert('session', 'lost', {}, { expiresAt: null }), /may or may not have been committed/);
  } finally {
    session.disconnect();
  }
  assert.equal(await store.insert('session', 'after', {}, { expiresAt: null }), true);
  await store.appendAudit([auditEntry(2)], link, genesis);
  assert.ok(await store.find('session', 'before'));
  assert.ok(await store.find('session', 'after'));
  assert.equal(await store.find('session', 'lost'), undefined, 'the blocked thread never ran it');
  const rows = await store.readAudit();
  assert.equal(rows.length, 2);
  assertOneChain(rows, genesis);
  await store.close();
});

it('sqlite: a write after close fails at once instead of waiting for a writer thread that is gone', async () => {
  const store = new SqliteStore(join(dir, 'writer-closed.db'), undefined, { writerThread: true });
  const before = store.insert('session', 's1', {}, { expiresAt: null });
  await store.close();
  // Writes issued before close are committed and answered first.
  assert.equal(await before, true);
  await assert.rejects(store.insert('session', 's2', {}, { expiresAt: null }), /the store is closed/);
});

it('sqlite: with background checkpoints the main database file catches up with the WAL without the writer checkpointing', async () => {
  const clock = new ManualClock();
  const file = join(dir, 'checkpointed.db');
  const store = new SqliteStore(file, clock, { backgroundCheckpoints: 50 });
  for (let i = 0; i < 50; i++) await store.insert('access_token', `jti-${i}`, { i }, { expiresAt: clock.now() + 100 });
  // Far below the writer's backstop (10,000 pages): only the worker can have copied these pages into the file.
  await new Promise((resolve) => setTimeout(resolve, 400));
  const copy = join(dir, 'main-file-only.db');
  copyFileSync(file, copy);
  const withoutWal = new Database(copy, { readonly: true });
  const { n } = withoutWal.prepare("SELECT count(*) AS n FROM records WHERE kind = 'access_token'").get() as { n: number };
  withoutWal.close();
  assert.equal(n, 50);
  await store.close();
  await store.close();
});
