import type { RecordKind, StoredRecord } from './store.js';

/** A `records` row as both adapters read it: SQLite gives integers, PostgreSQL bigints as strings. */
export interface RecordRow {
  kind: RecordKind;
  id: string;
  value: string;
  grant_id: string | null;
  expires_at: number | string | null;
  consumed_at: number | string | null;
  created_at: number | string;
}

/** The one row-to-record mapping; seconds since the epoch fit a JS number exactly. */
export function toRecord<T>(row: RecordRow): StoredRecord<T> {
  return {
    kind: row.kind,
    id: row.id,
    value: JSON.parse(row.value) as T,
    grantId: row.grant_id,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
    createdAt: Number(row.created_at),
  };
}
