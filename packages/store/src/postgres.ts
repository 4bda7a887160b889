import type { Clock } from '@palisade/core';
import { systemClock } from '@palisade/core';
import pg from 'pg';
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
 * Versioned schema migrations, applied in order, each once, under an
 * advisory lock so that nodes starting together do not race.
 */
export const MIGRATIONS: readonly { readonly version: number; readonly sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE palisade_records (
  kind        text   NOT NULL,
  id          text   COLLATE "C" NOT NULL,
  value       text   NOT NULL,
  grant_id    text,
  expires_at  bigint,
  consumed_at bigint,
  created_at  bigint NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE INDEX palisade_records_grant ON palisade_records (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX palisade_records_expiry ON palisade_records (expires_at) WHERE expires_at IS NOT NULL;`,
  },
  {
    version: 2,
    sql: `
CREATE TABLE palisade_audit (
  seq      bigint PRIMARY KEY,
  entry    text   NOT NULL,
  prev     text   NOT NULL,
  hash     text   NOT NULL,
  time     bigint NOT NULL,
  event    text   NOT NULL,
  trace_id text,
  sub      text,
  client   text,
  outcome  text   NOT NULL
);
CREATE INDEX palisade_audit_trace ON palisade_audit (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX palisade_audit_sub ON palisade_audit (sub, time);
CREATE INDEX palisade_audit_time ON palisade_audit (time);
CREATE TABLE palisade_audit_checkpoints (
  seq        bigint PRIMARY KEY,
  hash       text   NOT NULL,
  signature  text   NOT NULL,
  created_at bigint NOT NULL
);
CREATE FUNCTION palisade_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
CREATE TRIGGER palisade_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON palisade_audit
  FOR EACH STATEMENT EXECUTE FUNCTION palisade_audit_append_only();
CREATE TRIGGER palisade_audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON palisade_audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION palisade_audit_append_only();`,
  },
];

/** pg_advisory_xact_lock key serializing appends to the audit chain across nodes: "palisade audit". */
const AUDIT_LOCK = 0x61756474;

/** An arbitrary, fixed key for pg_advisory_xact_lock: "palisade migrations". */
const MIGRATION_LOCK = 0x70616c69;

const LIVE = '(expires_at IS NULL OR expires_at > $now)';

/** Expiries are whole seconds (bigint); a fractional one (a client's `exp` + skew) rounds up, as SQLite would keep it. */
function wholeSeconds<T extends number | null>(value: T): T {
  return (value === null ? null : Math.ceil(value)) as T;
}

/** `$name` placeholders → `$1…` with values, so every statement reads like the SQLite one. */
function sql(text: string, params: Record<string, unknown>): { text: string; values: unknown[] } {
  const names: string[] = [];
  const rewritten = text.replace(/\$([a-zA-Z]+)/g, (_match, name: string) => {
    if (!(name in params)) throw new Error(`no value for the $${name} placeholder`);
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text: rewritten, values: names.map((name) => params[name]) };
}

/**
 * The clustered store: PostgreSQL through a `pg` pool, shared by every node.
 * Each one-time operation is a single conditional statement, atomic across
 * nodes without in-process locks: `consume` is an UPDATE … WHERE consumed_at
 * IS NULL (a racing second UPDATE waits for the first's row lock, re-checks
 * the condition, and finds it false); `insert` and `increment` are INSERT …
 * ON CONFLICT.
 */
export class PostgresStore implements Store {
  readonly #pool: pg.Pool;
  readonly #clock: Clock;

  private constructor(pool: pg.Pool, clock: Clock) {
    this.#pool = pool;
    this.#clock = clock;
  }

  /** Connects (and, unless told otherwise, migrates) a store. */
  static async connect(config: pg.PoolConfig, options: { clock?: Clock; migrate?: boolean } = {}): Promise<PostgresStore> {
    // Bounded waits, so a sick database makes /readyz answer 503 instead of hanging every request.
    const pool = new pg.Pool({ max: 10, connectionTimeoutMillis: 5000, statement_timeout: 10_000, ...config });
    // An idle client's connection dropping (restart, failover, idle timeout) must not crash the node:
    // pg emits it on the pool, and an unhandled 'error' event would end the process.
    pool.on('error', (error) => {
      process.emitWarning(`PostgreSQL idle client error: ${error.message}`, 'PalisadeStoreWarning');
    });
    const store = new PostgresStore(pool, options.clock ?? systemClock);
    if (options.migrate ?? true) await migrate(pool);
    return store;
  }

  async #query(text: string, params: Record<string, unknown>): Promise<pg.QueryResult<Row>> {
    return this.#pool.query<Row>(sql(text, params));
  }

  #params<T>(kind: RecordKind, id: string, value: T, options: WriteOptions) {
    return {
      kind,
      id,
      value: JSON.stringify(value),
      grantId: options.grantId ?? null,
      expiresAt: wholeSeconds(options.expiresAt),
      now: this.#clock.now(),
    };
  }

  async insert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<boolean> {
    const result = await this.#query(
      `INSERT INTO palisade_records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES ($kind, $id, $value, $grantId, $expiresAt, NULL, $now)
       ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id,
         expires_at = excluded.expires_at, consumed_at = NULL, created_at = excluded.created_at
       WHERE palisade_records.expires_at IS NOT NULL AND palisade_records.expires_at <= $now`,
      this.#params(kind, id, value, options),
    );
    return result.rowCount === 1;
  }

  async upsert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<void> {
    await this.#query(
      `INSERT INTO palisade_records (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES ($kind, $id, $value, $grantId, $expiresAt, NULL, $now)
       ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, grant_id = excluded.grant_id, expires_at = excluded.expires_at`,
      this.#params(kind, id, value, options),
    );
  }

  async increment(kind: RecordKind, id: string, expiresAt: number): Promise<number> {
    const result = await this.#query(
      `INSERT INTO palisade_records AS r (kind, id, value, grant_id, expires_at, consumed_at, created_at)
       VALUES ($kind, $id, '{"count":1}', NULL, $expiresAt, NULL, $now)
       ON CONFLICT (kind, id) DO UPDATE SET
         value = CASE WHEN r.expires_at IS NOT NULL AND r.expires_at <= $now THEN '{"count":1}'
                 ELSE jsonb_set(r.value::jsonb, '{count}', to_jsonb((r.value::jsonb->>'count')::int + 1))::text END,
         created_at = CASE WHEN r.expires_at IS NOT NULL AND r.expires_at <= $now THEN $now ELSE r.created_at END,
         expires_at = $expiresAt
       RETURNING value`,
      { kind, id, expiresAt: wholeSeconds(expiresAt), now: this.#clock.now() },
    );
    return (JSON.parse(result.rows[0]?.value ?? '{"count":0}') as { count: number }).count;
  }

  async find<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined> {
    const result = await this.#query(`SELECT * FROM palisade_records WHERE kind = $kind AND id = $id AND ${LIVE}`, {
      kind,
      id,
      now: this.#clock.now(),
    });
    const row = result.rows[0];
    return row ? toRecord<T>(row) : undefined;
  }

  async consume<T>(kind: RecordKind, id: string): Promise<ConsumeResult<T> | undefined> {
    const now = this.#clock.now();
    const won = await this.#query(
      `UPDATE palisade_records SET consumed_at = $now WHERE kind = $kind AND id = $id AND consumed_at IS NULL AND ${LIVE} RETURNING *`,
      { kind, id, now },
    );
    if (won.rows[0]) return { record: toRecord<T>(won.rows[0]), first: true };
    const found = await this.find<T>(kind, id);
    return found ? { record: found, first: false } : undefined;
  }

  async delete(kind: RecordKind, id: string): Promise<void> {
    await this.#query('DELETE FROM palisade_records WHERE kind = $kind AND id = $id', { kind, id });
  }

  async deleteByGrant(grantId: string): Promise<number> {
    return (await this.#query('DELETE FROM palisade_records WHERE grant_id = $grantId', { grantId })).rowCount ?? 0;
  }

  async list<T>(kind: RecordKind, prefix = ''): Promise<StoredRecord<T>[]> {
    // Byte-wise (COLLATE "C") range on the primary key, as in SQLite: no LIKE wildcards, index used.
    const result = await this.#query(
      `SELECT * FROM palisade_records WHERE kind = $kind AND id >= $prefix AND id < $upper AND ${LIVE} ORDER BY created_at, id`,
      { kind, prefix, upper: `${prefix}\u{10FFFF}`, now: this.#clock.now() },
    );
    return result.rows.map((row) => toRecord<T>(row));
  }

  async sweep(): Promise<number> {
    return (
      (await this.#query('DELETE FROM palisade_records WHERE expires_at IS NOT NULL AND expires_at <= $now', { now: this.#clock.now() }))
        .rowCount ?? 0
    );
  }

  async appendAudit(
    entries: readonly { entry: string; index: AuditIndex }[],
    link: AuditLink,
    genesis: string,
  ): Promise<{ seq: number; hash: string }> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      // One appender at a time across every node: the chain has exactly one end.
      await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      const last = (await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM palisade_audit ORDER BY seq DESC LIMIT 1'))
        .rows[0];
      let seq = Number(last?.seq ?? 0);
      let prev = last?.hash ?? genesis;
      for (const { entry, index } of entries) {
        seq++;
        const hash = link(prev, seq, entry);
        await client.query(
          sql(
            `INSERT INTO palisade_audit (seq, entry, prev, hash, time, event, trace_id, sub, client, outcome)
             VALUES ($seq, $entry, $prev, $hash, $time, $event, $traceId, $sub, $client, $outcome)`,
            { seq, entry, prev, hash, ...index },
          ),
        );
        prev = hash;
      }
      await client.query('COMMIT');
      return { seq, hash: prev };
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  async readAudit(query: AuditQuery = {}): Promise<AuditRow[]> {
    const { where, params } = auditWhere(query, '$');
    const limit = params.limit === -1 ? null : params.limit;
    const result = await this.#pool.query<AuditSqlRow>(
      sql(`SELECT * FROM palisade_audit ${where} ORDER BY seq LIMIT $limit`, { ...params, limit }),
    );
    return result.rows.map(toAuditRow);
  }

  async addAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void> {
    await this.#pool.query(
      sql(
        `INSERT INTO palisade_audit_checkpoints (seq, hash, signature, created_at) VALUES ($seq, $hash, $signature, $createdAt)
         ON CONFLICT (seq) DO NOTHING`,
        { ...checkpoint },
      ),
    );
  }

  async importAudit(rows: readonly AuditRow[], checkpoints: readonly AuditCheckpointRow[]): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
      if ((await client.query('SELECT 1 FROM palisade_audit LIMIT 1')).rowCount)
        throw new Error('the audit trail of the target store is not empty');
      for (const row of rows) {
        await client.query(
          sql(
            `INSERT INTO palisade_audit (seq, entry, prev, hash, time, event, trace_id, sub, client, outcome)
             VALUES ($seq, $entry, $prev, $hash, $time, $event, $traceId, $sub, $client, $outcome)`,
            { ...row },
          ),
        );
      }
      for (const checkpoint of checkpoints) {
        await client.query(
          sql('INSERT INTO palisade_audit_checkpoints (seq, hash, signature, created_at) VALUES ($seq, $hash, $signature, $createdAt)', {
            ...checkpoint,
          }),
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }

  async auditCheckpoints(): Promise<AuditCheckpointRow[]> {
    const result = await this.#pool.query<{ seq: string; hash: string; signature: string; created_at: string }>(
      'SELECT seq, hash, signature, created_at FROM palisade_audit_checkpoints ORDER BY seq',
    );
    return result.rows.map((row) => ({
      seq: Number(row.seq),
      hash: row.hash,
      signature: row.signature,
      createdAt: Number(row.created_at),
    }));
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** Applies pending migrations in one transaction under an advisory lock. Returns the versions applied. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS palisade_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM palisade_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO palisade_migrations (version) VALUES ($1)', [migration.version]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}
