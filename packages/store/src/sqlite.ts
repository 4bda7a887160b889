import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Clock } from '@palisade/core';
import { systemClock } from '@palisade/core';
import Database from 'better-sqlite3';
import { type AuditSqlRow, auditWhere, toAuditRow } from './audit-sql.js';
import { type RecordRow as Row, toRecord } from './row.js';
import type {
  AuditCheckpointRow,
  AuditIndex,
  AuditLink,
  AuditQuery,
  AuditRow,
  ConsumeResult,
  RecordKind,
  Store,
  StoredRecord,
  WriteOptions,
} from './store.js';

/**
 * The store holds private signing keys and grant state: only this user may
 * read it. mkdir's mode applies only to a directory it creates, so the mode is
 * set explicitly; the database file is created 0600 before SQLite opens it,
 * and SQLite gives its -wal and -shm files the same mode.
 */
function protectFiles(filename: string): void {
  const directory = dirname(filename);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  chmodSync(directory, 0o700);
  closeSync(openSync(filename, 'a', 0o600));
  chmodSync(filename, 0o600);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  kind        TEXT    NOT NULL,
  id          TEXT    NOT NULL,
  value       TEXT    NOT NULL,
  grant_id    TEXT,
  expires_at  INTEGER,
  consumed_at INTEGER,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_grant ON records (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS audit (
  seq      INTEGER PRIMARY KEY,
  entry    TEXT    NOT NULL,
  prev     TEXT    NOT NULL,
  hash     TEXT    NOT NULL,
  time     INTEGER NOT NULL,
  event    TEXT    NOT NULL,
  trace_id TEXT,
  sub      TEXT,
  client   TEXT,
  outcome  TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_trace ON audit (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_sub ON audit (sub, time);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq        INTEGER PRIMARY KEY,
  hash       TEXT    NOT NULL,
  signature  TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

export interface SqliteOptions {
  /**
   * Checkpoint the WAL from a worker thread (`true`: every 500 ms, or every
   * this many milliseconds), so the fsync that ends a checkpoint never stalls
   * the event loop inside a commit (the writer keeps a large autocheckpoint as
   * a backstop). For long-running servers; off by default (tests and one-shot
   * commands).
   */
  readonly backgroundCheckpoints?: boolean | number;
}

const CHECKPOINT_INTERVAL_MS = 500;

/** Pages the WAL may hold before the writing connection checkpoints it itself (≈ 40 MB): only if the worker falls behind. */
const BACKSTOP_CHECKPOINT_PAGES = 10_000;

/**
 * The embedded store: one SQLite file in the data directory, WAL mode.
 * better-sqlite3 is synchronous, so every statement is atomic within the
 * process; writes are group-committed in IMMEDIATE transactions, and the
 * conditional UPDATE in `consume` keeps it atomic across processes sharing
 * the file too.
 */
export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #stmt;
  readonly #checkpointer: Worker | undefined;
  readonly #checkpointerExit: Promise<unknown> | undefined;
  #pending: { run: () => unknown; resolve: (value: unknown) => void; reject: (error: unknown) => void }[] = [];

  constructor(filename: string, clock: Clock = systemClock, options: SqliteOptions = {}) {
    if (filename !== ':memory:') protectFiles(filename);
    this.#db = new Database(filename);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    if (filename !== ':memory:' && options.backgroundCheckpoints) {
      this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      this.#checkpointer = new Worker(new URL('./checkpointer.js', import.meta.url), {
        workerData: { filename, interval: options.backgroundCheckpoints === true ? CHECKPOINT_INTERVAL_MS : options.backgroundCheckpoints },
      });
      // Never what keeps a process alive; a failing checkpointer leaves the backstop in charge.
      this.#checkpointer.unref();
      this.#checkpointer.on('error', () => undefined);
      const worker = this.#checkpointer;
      this.#checkpointerExit = new Promise((resolve) => worker.once('exit', resolve));
    }
    this.#db.exec(SCHEMA);
    this.#clock = clock;
    const live = '(expires_at IS NULL OR expires_at > @now)';
    this.#stmt = {
      insert: this.#db.prepare(
        `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
         VALUES (@kind, @id, @value, @grantId, @expiresAt, NULL, @now)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id,
           expires_at = excluded.expires_at, consumed_at = NULL, created_at = excluded.created_at
         WHERE records.expires_at IS NOT NULL AND records.expires_at <= @now`,
      ),
      upsert: this.#db.prepare(
        `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
         VALUES (@kind, @id, @value, @grantId, @expiresAt, NULL, @now)
         ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id,
           expires_at = excluded.expires_at`,
      ),
      increment: this.#db.prepare(
        `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
         VALUES (@kind, @id, '{"count":1}', NULL, @expiresAt, NULL, @now)
         ON CONFLICT (kind, id) DO UPDATE SET
           value = CASE WHEN records.expires_at IS NOT NULL AND records.expires_at <= @now THEN '{"count":1}'
                   ELSE json_set(records.value, '$.count', json_extract(records.value, '$.count') + 1) END,
           created_at = CASE WHEN records.expires_at IS NOT NULL AND records.expires_at <= @now THEN @now ELSE records.created_at END,
           expires_at = @expiresAt
         RETURNING json_extract(value, '$.count') AS count`,
      ),
      find: this.#db.prepare(`SELECT * FROM records WHERE kind = @kind AND id = @id AND ${live}`),
      consume: this.#db.prepare(
        `UPDATE records SET consumed_at = @now
         WHERE kind = @kind AND id = @id AND consumed_at IS NULL AND ${live}`,
      ),
      delete: this.#db.prepare('DELETE FROM records WHERE kind = @kind AND id = @id'),
      deleteByGrant: this.#db.prepare('DELETE FROM records WHERE grant_id = @grantId'),
      // A range on the primary key rather than LIKE: ids may contain % and _, and the index is used.
      list: this.#db.prepare(
        `SELECT * FROM records WHERE kind = @kind AND id >= @prefix AND id < @upper AND ${live} ORDER BY created_at, id`,
      ),
      sweep: this.#db.prepare('DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= @now'),
      auditLast: this.#db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
      auditInsert: this.#db.prepare(
        `INSERT INTO audit (seq, entry, prev, hash, time, event, trace_id, sub, client, outcome)
         VALUES (@seq, @entry, @prev, @hash, @time, @event, @traceId, @sub, @client, @outcome)`,
      ),
      checkpointInsert: this.#db.prepare(
        'INSERT OR IGNORE INTO audit_checkpoints (seq, hash, signature, created_at) VALUES (@seq, @hash, @signature, @createdAt)',
      ),
      checkpoints: this.#db.prepare('SELECT seq, hash, signature, created_at FROM audit_checkpoints ORDER BY seq'),
    };
  }

  async insert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<boolean> {
    const params = this.#params(kind, id, value, options);
    return this.#write(() => this.#stmt.insert.run(params).changes === 1);
  }

  async upsert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<void> {
    const params = this.#params(kind, id, value, options);
    await this.#write(() => this.#stmt.upsert.run(params));
  }

  async increment(kind: RecordKind, id: string, expiresAt: number): Promise<number> {
    const now = this.#clock.now();
    return this.#write(() => (this.#stmt.increment.get({ kind, id, expiresAt, now }) as { count: number }).count);
  }

  async find<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.#stmt.find.get({ kind, id, now: this.#clock.now() }) as Row | undefined;
    return row ? toRecord<T>(row) : undefined;
  }

  async consume<T>(kind: RecordKind, id: string): Promise<ConsumeResult<T> | undefined> {
    const now = this.#clock.now();
    return this.#write(() => {
      const first = this.#stmt.consume.run({ kind, id, now }).changes === 1;
      const row = this.#stmt.find.get({ kind, id, now }) as Row | undefined;
      return row ? { record: toRecord<T>(row), first } : undefined;
    });
  }

  async delete(kind: RecordKind, id: string): Promise<void> {
    await this.#write(() => this.#stmt.delete.run({ kind, id }));
  }

  async deleteByGrant(grantId: string): Promise<number> {
    return this.#write(() => this.#stmt.deleteByGrant.run({ grantId }).changes);
  }

  async list<T>(kind: RecordKind, prefix = ''): Promise<StoredRecord<T>[]> {
    // U+10FFFF is the largest code point, so every id that starts with the prefix sorts below this bound.
    const rows = this.#stmt.list.all({ kind, prefix, upper: `${prefix}\u{10FFFF}`, now: this.#clock.now() }) as Row[];
    return rows.map((row) => toRecord<T>(row));
  }

  async sweep(): Promise<number> {
    const now = this.#clock.now();
    return this.#write(() => this.#stmt.sweep.run({ now }).changes);
  }

  async appendAudit(
    entries: readonly { entry: string; index: AuditIndex }[],
    link: AuditLink,
    genesis: string,
  ): Promise<{ seq: number; hash: string }> {
    // Inside the IMMEDIATE write transaction: no other writer, in this process or another, can append between the read and the inserts.
    return this.#write(() => {
      const last = this.#stmt.auditLast.get() as { seq: number; hash: string } | undefined;
      let seq = last?.seq ?? 0;
      let prev = last?.hash ?? genesis;
      for (const { entry, index } of entries) {
        seq++;
        const hash = link(prev, seq, entry);
        this.#stmt.auditInsert.run({ seq, entry, prev, hash, ...index });
        prev = hash;
      }
      return { seq, hash: prev };
    });
  }

  async readAudit(query: AuditQuery = {}): Promise<AuditRow[]> {
    const { where, params } = auditWhere(query, '@');
    const rows = this.#db.prepare(`SELECT * FROM audit ${where} ORDER BY seq LIMIT @limit`).all(params) as AuditSqlRow[];
    return rows.map(toAuditRow);
  }

  async addAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    await this.#write(() => this.#stmt.checkpointInsert.run(checkpoint));
  }

  async importAudit(rows: readonly AuditRow[], checkpoints: readonly AuditCheckpointRow[]): Promise<void> {
    await this.#write(() => {
      if (this.#stmt.auditLast.get()) throw new Error('the audit trail of the target store is not empty');
      for (const row of rows) this.#stmt.auditInsert.run(row);
      for (const checkpoint of checkpoints) this.#stmt.checkpointInsert.run(checkpoint);
    });
  }

  async auditCheckpoints(): Promise<AuditCheckpointRow[]> {
    return (this.#stmt.checkpoints.all() as { seq: number; hash: string; signature: string; created_at: number }[]).map((row) => ({
      seq: row.seq,
      hash: row.hash,
      signature: row.signature,
      createdAt: row.created_at,
    }));
  }

  async close(): Promise<void> {
    this.#flush();
    if (this.#checkpointer) {
      // Held open until the worker has closed its connection, so the file is never closed under it.
      this.#checkpointer.ref();
      this.#checkpointer.postMessage('close');
      await this.#checkpointerExit;
    }
    if (this.#db.open) this.#db.close();
  }

  /**
   * Group commit: writes issued in the same turn of the event loop run in one
   * IMMEDIATE transaction, in the order they were issued, and each caller is
   * answered only after the commit. A token is never handed out before its
   * record is committed, and a burst of N token requests costs one WAL commit
   * instead of N (the dominant cost of a token request before this). With
   * `synchronous = NORMAL` a power loss can drop the last commits (ADR 0004).
   */
  #write<R>(run: () => R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.#db
        .transaction(() => {
          for (const op of batch) {
            try {
              outcomes.push({ ok: true, value: op.run() });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const op of batch) op.reject(error);
      return;
    }
    batch.forEach((op, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) op.resolve(outcome.value);
      else op.reject(outcome?.error);
    });
  }

  #params<T>(kind: RecordKind, id: string, value: T, options: WriteOptions) {
    return {
      kind,
      id,
      value: JSON.stringify(value),
      grantId: options.grantId ?? null,
      expiresAt: options.expiresAt,
      now: this.#clock.now(),
    };
  }
}
