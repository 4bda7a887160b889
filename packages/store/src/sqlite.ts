import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Clock } from '@palisade/core';
import { systemClock } from '@palisade/core';
import Database from 'better-sqlite3';
import { type AuditSqlRow, auditWhere, toAuditRow } from './audit-sql.js';
import { type RecordRow as Row, toRecord } from './row.js';
import {
  type AppendOutcome,
  type ChainEnd,
  groupCommit,
  LIVE,
  linkFrom,
  type Outcome,
  outcomeError,
  readChainEnd,
  type WriteOp,
} from './sqlite-writes.js';
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
   * a commit (the writer keeps a large autocheckpoint as a backstop). For
   * long-running servers; off by default (tests and one-shot commands).
   */
  readonly backgroundCheckpoints?: boolean | number;
  /**
   * Run every write on a worker thread with its own connection (group commits
   * cross as one message each way): the event loop keeps parsing, signing and
   * answering while SQLite inserts, indexes and commits. Reads stay on the
   * event loop's connection; a write is answered after its commit, so a read
   * that follows it sees it. For servers; off by default.
   */
  readonly writerThread?: boolean;
}

const CHECKPOINT_INTERVAL_MS = 500;

/** Pages the WAL may hold before the writing connection checkpoints it itself (≈ 40 MB): only if the worker falls behind. */
const BACKSTOP_CHECKPOINT_PAGES = 10_000;

/** Appends that found the chain moved on (another process appended) are relinked at most this often before failing. */
const MAX_APPEND_ATTEMPTS = 100;

type Pending = { readonly write: WriteOp; readonly resolve: (value: unknown) => void; readonly reject: (error: unknown) => void };

/** A worker thread the store owns: unref'd while idle, so it never keeps a process alive by itself. */
function startWorker(module: string, workerData: unknown): { worker: Worker; exited: Promise<unknown> } {
  const worker = new Worker(new URL(module, import.meta.url), { workerData });
  worker.unref();
  return { worker, exited: new Promise((resolve) => worker.once('exit', resolve)) };
}

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
  readonly #read;
  readonly #checkpointer: { worker: Worker; exited: Promise<unknown> } | undefined;
  /** Where batches are committed: on the writer thread, or on the event loop's own connection. */
  #committer:
    | { readonly thread: { worker: Worker; exited: Promise<unknown> } }
    | { readonly commit: (batch: readonly WriteOp[]) => Outcome[] };
  /** The batch on the writer thread, not yet answered: one at a time. */
  #sent: readonly Pending[] | undefined;
  /** Set by close(): later writes fail at once, and close() waits only for the writes before it. */
  #closed = false;
  /** Callers of close() waiting for the writer thread's answer. */
  readonly #drainWaiters: (() => void)[] = [];
  #pending: Pending[] = [];
  /** Where this process's last append left the audit chain; the next links from it, and corrects it if another process moved it. */
  #chainEnd: ChainEnd | undefined;
  /** This process's appends, one after the other. */
  #appending: Promise<unknown> = Promise.resolve();

  constructor(filename: string, clock: Clock = systemClock, options: SqliteOptions = {}) {
    if (filename !== ':memory:') protectFiles(filename);
    this.#db = new Database(filename);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.exec(SCHEMA);
    this.#clock = clock;
    const onFile = filename !== ':memory:';
    if (onFile && options.backgroundCheckpoints) {
      this.#db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      const interval = options.backgroundCheckpoints === true ? CHECKPOINT_INTERVAL_MS : options.backgroundCheckpoints;
      this.#checkpointer = startWorker('./checkpointer.js', { filename: resolve(filename), interval });
      // A failing checkpointer leaves the backstop in charge.
      this.#checkpointer.worker.on('error', () => undefined);
    }
    if (onFile && options.writerThread) {
      const autocheckpoint = options.backgroundCheckpoints ? BACKSTOP_CHECKPOINT_PAGES : 1000;
      const thread = startWorker('./sqlite-writer.js', { filename: resolve(filename), autocheckpoint });
      thread.worker.on('message', (answer) => this.#answered(answer));
      // An error, or an exit nobody asked for, loses the thread; the store carries on without it.
      thread.worker.on('error', () => this.#writerLost());
      thread.worker.on('exit', () => this.#writerLost());
      this.#committer = { thread };
    } else {
      this.#committer = { commit: groupCommit(this.#db) };
    }
    this.#read = {
      find: this.#db.prepare(`SELECT * FROM records WHERE kind = @kind AND id = @id AND ${LIVE}`),
      // A range on the primary key rather than LIKE: ids may contain % and _, and the index is used.
      list: this.#db.prepare(
        `SELECT * FROM records WHERE kind = @kind AND id >= @prefix AND id < @upper AND ${LIVE} ORDER BY created_at, id`,
      ),
      checkpoints: this.#db.prepare('SELECT seq, hash, signature, created_at FROM audit_checkpoints ORDER BY seq'),
    };
  }

  async insert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<boolean> {
    return this.#write({ op: 'insert', params: this.#params(kind, id, value, options) }) as Promise<boolean>;
  }

  async upsert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<void> {
    await this.#write({ op: 'upsert', params: this.#params(kind, id, value, options) });
  }

  async increment(kind: RecordKind, id: string, expiresAt: number): Promise<number> {
    return this.#write({ op: 'increment', params: { kind, id, expiresAt, now: this.#clock.now() } }) as Promise<number>;
  }

  async find<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const row = this.#read.find.get({ kind, id, now: this.#clock.now() }) as Row | undefined;
    return row ? toRecord<T>(row) : undefined;
  }

  async consume<T>(kind: RecordKind, id: string): Promise<ConsumeResult<T> | undefined> {
    const consumed = (await this.#write({ op: 'consume', params: { kind, id, now: this.#clock.now() } })) as
      | { row: Row; first: boolean }
      | undefined;
    return consumed ? { record: toRecord<T>(consumed.row), first: consumed.first } : undefined;
  }

  async delete(kind: RecordKind, id: string): Promise<void> {
    await this.#write({ op: 'delete', params: { kind, id } });
  }

  async deleteByGrant(grantId: string): Promise<number> {
    return this.#write({ op: 'deleteByGrant', params: { grantId } }) as Promise<number>;
  }

  async list<T>(kind: RecordKind, prefix = ''): Promise<StoredRecord<T>[]> {
    // U+10FFFF is the largest code point, so every id that starts with the prefix sorts below this bound.
    const rows = this.#read.list.all({ kind, prefix, upper: `${prefix}\u{10FFFF}`, now: this.#clock.now() }) as Row[];
    return rows.map((row) => toRecord<T>(row));
  }

  async sweep(): Promise<number> {
    return this.#write({ op: 'sweep', params: { now: this.#clock.now() } }) as Promise<number>;
  }

  /**
   * Links the entries from where this process believes the chain ends and
   * sends them as one write, which appends them only if the chain still ends
   * there (checked inside the IMMEDIATE transaction, so no writer in this
   * process or another can append in between). If another process appended
   * first, the write answers the actual end and the entries are linked again
   * from it. This process's appends go one at a time, each from the end the
   * one before it left.
   */
  appendAudit(
    entries: readonly { entry: string; index: AuditIndex }[],
    link: AuditLink,
    genesis: string,
  ): Promise<{ seq: number; hash: string }> {
    const appended = this.#appending.then(() => this.#append(entries, link, genesis));
    this.#appending = appended.catch(() => undefined);
    return appended;
  }

  async #append(entries: readonly { entry: string; index: AuditIndex }[], link: AuditLink, genesis: string): Promise<ChainEnd> {
    let after = this.#chainEnd ?? readChainEnd(this.#db, genesis);
    // Forgotten until this append is answered: if it fails, the next one reads the end from the database.
    this.#chainEnd = undefined;
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const rows = linkFrom(after, entries, link);
      // On the event loop's own connection the write relinks in place, so it never comes back stale.
      const relink = 'commit' in this.#committer ? { relink: link } : {};
      const outcome = (await this.#write({ op: 'appendAudit', genesis, after, rows, ...relink })) as AppendOutcome;
      if ('appended' in outcome) {
        this.#chainEnd = outcome.appended;
        return outcome.appended;
      }
      after = outcome.stale;
      // Other processes are appending as fast as this one: step aside a little, longer each time.
      if (attempt > 2) await new Promise((resolve) => setTimeout(resolve, Math.random() * attempt));
    }
    throw new Error('the audit chain kept moving under this append');
  }

  async readAudit(query: AuditQuery = {}): Promise<AuditRow[]> {
    const { where, params } = auditWhere(query, '@');
    const rows = this.#db.prepare(`SELECT * FROM audit ${where} ORDER BY seq LIMIT @limit`).all(params) as AuditSqlRow[];
    return rows.map(toAuditRow);
  }

  async addAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    await this.#write({ op: 'addAuditCheckpoint', checkpoint });
  }

  async importAudit(rows: readonly AuditRow[], checkpoints: readonly AuditCheckpointRow[]): Promise<void> {
    await this.#write({ op: 'importAudit', rows, checkpoints });
    this.#chainEnd = undefined;
  }

  async auditCheckpoints(): Promise<AuditCheckpointRow[]> {
    return (this.#read.checkpoints.all() as { seq: number; hash: string; signature: string; created_at: number }[]).map((row) => ({
      seq: row.seq,
      hash: row.hash,
      signature: row.signature,
      createdAt: row.created_at,
    }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#flush();
    const writer = 'thread' in this.#committer ? this.#committer.thread : undefined;
    for (const thread of [writer, this.#checkpointer]) {
      if (!thread) continue;
      // Held open until the worker has closed its connection, so the file is never closed under it.
      thread.worker.ref();
      thread.worker.postMessage('close');
      await thread.exited;
    }
    if (this.#db.open) this.#db.close();
  }

  /**
   * Group commit: writes issued together run in one IMMEDIATE transaction, in
   * the order they were issued, and each caller is answered only after the
   * commit. On the event loop's connection "together" is one turn of the
   * event loop; with a writer thread, everything issued while the previous
   * batch was on the thread. A token is never handed out before its record is
   * committed, and a burst of N token requests costs one WAL commit instead of
   * N. With `synchronous = NORMAL` a power loss can drop the last commits (ADR
   * 0004).
   */
  #write(write: WriteOp): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ write, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
  }

  /** Commits the pending writes, or sends them to the writer thread; resolves once nothing is waiting on it. */
  #flush(): Promise<void> {
    // One batch at a time on the writer thread: what arrives meanwhile waits and goes as the next
    // batch, so under load batches grow (fewer commits) instead of queueing up one per turn.
    if (this.#sent) return this.#drained();
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return Promise.resolve();
    const writes = batch.map((pending) => pending.write);
    const committer = this.#committer;
    if ('thread' in committer) {
      try {
        // Throws before anything is sent if a write cannot be copied to the thread (a DataCloneError).
        committer.thread.worker.postMessage(writes);
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        return this.#flush();
      }
      this.#sent = batch;
      committer.thread.worker.ref();
      return this.#drained();
    }
    try {
      settle(batch, committer.commit(writes));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
    return Promise.resolve();
  }

  #answered(answer: { outcomes: Outcome[] } | { failed: Extract<Outcome, { ok: false }> }): void {
    const batch = this.#sent ?? [];
    this.#sent = undefined;
    if ('thread' in this.#committer) this.#committer.thread.worker.unref();
    if ('outcomes' in answer) settle(batch, answer.outcomes);
    else for (const pending of batch) pending.reject(outcomeError(answer.failed));
    if (this.#pending.length > 0) void this.#flush();
    else for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  /**
   * The writer thread died (or exited unasked). The batch it held may or may
   * not have been committed: its writes fail, saying so. Later writes are
   * committed on the event loop's own connection: slower, never stuck. A
   * thread closed by close() is not lost.
   */
  #writerLost(): void {
    if (!('thread' in this.#committer) || (this.#closed && !this.#sent)) return;
    this.#committer = { commit: groupCommit(this.#db) };
    const lost = new Error('the store’s writer thread stopped: this write may or may not have been committed');
    for (const pending of this.#sent ?? []) pending.reject(lost);
    this.#sent = undefined;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    if (this.#pending.length > 0) void this.#flush();
  }

  /** Resolves when no batch is waiting on the writer thread. */
  #drained(): Promise<void> {
    if (!this.#sent) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
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

/** Answers each write of a committed batch with its own outcome. */
function settle(batch: readonly Pending[], outcomes: readonly Outcome[]): void {
  batch.forEach((pending, i) => {
    const outcome = outcomes[i];
    if (outcome?.ok) pending.resolve(outcome.value);
    else pending.reject(outcome ? outcomeError(outcome) : new Error('the write was not answered'));
  });
}
