import type Database from 'better-sqlite3';
import type { RecordRow } from './row.js';
import type { AuditCheckpointRow, AuditIndex, AuditLink, AuditRow } from './store.js';

/** A record's columns as the write statements bind them. */
export interface RecordParams {
  readonly kind: string;
  readonly id: string;
  readonly value: string;
  readonly grantId: string | null;
  readonly expiresAt: number | null;
  readonly now: number;
}

/** The end of the audit chain: the last record's position and hash (seq 0 and the genesis value when empty). */
export interface ChainEnd {
  readonly seq: number;
  readonly hash: string;
}

/** An audit record ready to insert: its links were computed by the caller from the chain end it names. */
export type LinkedAuditRow = { readonly seq: number; readonly entry: string; readonly prev: string; readonly hash: string } & AuditIndex;

/**
 * Entries linked one after the other from `end`. Only the columns are
 * copied, so nothing else a caller's index carries (a method, a getter) has
 * to cross to the writer thread.
 */
export function linkFrom(
  end: ChainEnd,
  entries: readonly { readonly entry: string; readonly index: AuditIndex }[],
  link: AuditLink,
): LinkedAuditRow[] {
  let { seq, hash: prev } = end;
  return entries.map(({ entry, index }) => {
    seq++;
    const hash = link(prev, seq, entry);
    const { time, event, traceId, sub, client, outcome } = index;
    const row = { seq, entry, prev, hash, time, event, traceId, sub, client, outcome };
    prev = hash;
    return row;
  });
}

/**
 * Every write the SQLite store makes, as data rather than closures, so the
 * same batch runs on the event loop's connection or on the writer thread's
 * (structured-cloned across, SqliteOptions.writerThread).
 */
export type WriteOp =
  | { readonly op: 'insert' | 'upsert'; readonly params: RecordParams }
  | { readonly op: 'increment'; readonly params: { kind: string; id: string; expiresAt: number; now: number } }
  | { readonly op: 'consume'; readonly params: { kind: string; id: string; now: number } }
  | { readonly op: 'delete'; readonly params: { kind: string; id: string } }
  | { readonly op: 'deleteByGrant'; readonly params: { grantId: string } }
  | { readonly op: 'sweep'; readonly params: { now: number } }
  /**
   * Appends `rows` if the chain still ends at `after` (`genesis` names the
   * empty chain's end). If another writer appended meanwhile: with `relink`
   * (on the event loop's own connection, where a function can go) the rows
   * are linked again from the actual end and appended; without it (on the
   * writer thread) nothing is written and the actual end is answered.
   */
  | {
      readonly op: 'appendAudit';
      readonly genesis: string;
      readonly after: ChainEnd;
      readonly rows: readonly LinkedAuditRow[];
      readonly relink?: AuditLink;
    }
  | { readonly op: 'addAuditCheckpoint'; readonly checkpoint: AuditCheckpointRow }
  | { readonly op: 'importAudit'; readonly rows: readonly AuditRow[]; readonly checkpoints: readonly AuditCheckpointRow[] };

/** An error as it crosses threads: its message and SQLite's code, never a stack. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly message: string; readonly code?: string };

export type AppendOutcome = { readonly appended: ChainEnd } | { readonly stale: ChainEnd };

/** A failed write's outcome: its message and SQLite's code, never the stack. */
export function failure(error: unknown): Extract<Outcome, { ok: false }> {
  const { message, code } = error as { message?: unknown; code?: unknown };
  return { ok: false, message: String(message), ...(typeof code === 'string' ? { code } : {}) };
}

/** The error an outcome stands for, on the thread that waits for it. */
export function outcomeError(outcome: Extract<Outcome, { ok: false }>): Error {
  return Object.assign(new Error(outcome.message), outcome.code === undefined ? {} : { code: outcome.code });
}

/** The chain's end as the database holds it (`genesis` for an empty chain). */
export function readChainEnd(db: Database.Database, genesis: string): ChainEnd {
  const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as ChainEnd | undefined;
  return last ?? { seq: 0, hash: genesis };
}

/** The condition of a record that has not expired (reads and writes share it). */
export const LIVE = '(expires_at IS NULL OR expires_at > @now)';

/**
 * Prepares the write statements on `db` and returns the group commit: a
 * batch of writes runs in one IMMEDIATE transaction; a write that fails
 * leaves nothing behind (one statement is atomic, a write of several runs in
 * a savepoint) and the others still commit. Answers one outcome per write, in
 * order. An error that ends the transaction itself (a full disk) fails the
 * whole batch: nothing of it was committed.
 */
export function groupCommit(db: Database.Database): (batch: readonly WriteOp[]) => Outcome[] {
  const stmt = {
    insert: db.prepare(
      `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES (@kind, @id, @value, @grantId, @expiresAt, NULL, @now)
       ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id,
         expires_at = excluded.expires_at, consumed_at = NULL, created_at = excluded.created_at
       WHERE records.expires_at IS NOT NULL AND records.expires_at <= @now`,
    ),
    upsert: db.prepare(
      `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES (@kind, @id, @value, @grantId, @expiresAt, NULL, @now)
       ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id,
         expires_at = excluded.expires_at`,
    ),
    increment: db.prepare(
      `INSERT INTO records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES (@kind, @id, '{"count":1}', NULL, @expiresAt, NULL, @now)
       ON CONFLICT (kind, id) DO UPDATE SET
         value = CASE WHEN records.expires_at IS NOT NULL AND records.expires_at <= @now THEN '{"count":1}'
                 ELSE json_set(records.value, '$.count', json_extract(records.value, '$.count') + 1) END,
         created_at = CASE WHEN records.expires_at IS NOT NULL AND records.expires_at <= @now THEN @now ELSE records.created_at END,
         expires_at = @expiresAt
       RETURNING json_extract(value, '$.count') AS count`,
    ),
    consume: db.prepare(
      `UPDATE records SET consumed_at = @now
       WHERE kind = @kind AND id = @id AND consumed_at IS NULL AND ${LIVE}`,
    ),
    find: db.prepare(`SELECT * FROM records WHERE kind = @kind AND id = @id AND ${LIVE}`),
    delete: db.prepare('DELETE FROM records WHERE kind = @kind AND id = @id'),
    deleteByGrant: db.prepare('DELETE FROM records WHERE grant_id = @grantId'),
    sweep: db.prepare('DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= @now'),
    auditLast: db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1'),
    auditInsert: db.prepare(
      `INSERT INTO audit (seq, entry, prev, hash, time, event, trace_id, sub, client, outcome)
       VALUES (@seq, @entry, @prev, @hash, @time, @event, @traceId, @sub, @client, @outcome)`,
    ),
    checkpointInsert: db.prepare(
      'INSERT OR IGNORE INTO audit_checkpoints (seq, hash, signature, created_at) VALUES (@seq, @hash, @signature, @createdAt)',
    ),
  };

  function run(write: WriteOp): unknown {
    switch (write.op) {
      case 'insert':
        return stmt.insert.run(write.params).changes === 1;
      case 'upsert':
        stmt.upsert.run(write.params);
        return undefined;
      case 'increment':
        return (stmt.increment.get(write.params) as { count: number }).count;
      case 'consume': {
        const first = stmt.consume.run(write.params).changes === 1;
        const row = stmt.find.get(write.params) as RecordRow | undefined;
        return row ? { row, first } : undefined;
      }
      case 'delete':
        stmt.delete.run(write.params);
        return undefined;
      case 'deleteByGrant':
        return stmt.deleteByGrant.run(write.params).changes;
      case 'sweep':
        return stmt.sweep.run(write.params).changes;
      case 'appendAudit': {
        // Inside the IMMEDIATE transaction no other writer, in this process or another, can append between this read and the inserts.
        const last = (stmt.auditLast.get() as ChainEnd | undefined) ?? { seq: 0, hash: write.genesis };
        let rows = write.rows;
        if (last.seq !== write.after.seq || last.hash !== write.after.hash) {
          if (!write.relink) return { stale: last } satisfies AppendOutcome;
          rows = linkFrom(
            last,
            rows.map(({ entry, ...index }) => ({ entry, index })),
            write.relink,
          );
        }
        for (const row of rows) stmt.auditInsert.run(row);
        const end = rows.at(-1);
        return { appended: end ? { seq: end.seq, hash: end.hash } : last } satisfies AppendOutcome;
      }
      case 'addAuditCheckpoint':
        stmt.checkpointInsert.run(write.checkpoint);
        return undefined;
      case 'importAudit':
        if (stmt.auditLast.get()) throw new Error('the audit trail of the target store is not empty');
        for (const row of write.rows) stmt.auditInsert.run(row);
        for (const checkpoint of write.checkpoints) stmt.checkpointInsert.run(checkpoint);
        return undefined;
    }
  }

  // better-sqlite3 runs a transaction function called inside another as a savepoint: a write of
  // several statements that fails halfway is rolled back to it. One statement is atomic by itself.
  const inSavepoint = db.transaction(run);
  const commit = db.transaction((batch: readonly WriteOp[], outcomes: Outcome[]) => {
    for (const write of batch) {
      try {
        const several = write.op === 'appendAudit' || write.op === 'importAudit';
        outcomes.push({ ok: true, value: several ? inSavepoint(write) : run(write) });
      } catch (error) {
        // The statement ended the transaction itself (SQLITE_FULL, an I/O error): nothing of the batch stands.
        if (!db.inTransaction) throw error;
        outcomes.push(failure(error));
      }
    }
  });
  return (batch) => {
    const outcomes: Outcome[] = [];
    commit.immediate(batch, outcomes);
    return outcomes;
  };
}
