/**
 * The storage interface every adapter implements (SQLite embedded, PostgreSQL
 * clustered). Protocol code sees only this: records of a kind, addressed by
 * id, with an optional expiry and an optional grant they belong to.
 *
 * The atomic operations are what OAuth's one-time semantics need across
 * processes and nodes: `consume` (codes, refresh tokens, request_uris,
 * auth_req_ids are redeemable once) and `insert` returning false on a live
 * duplicate (replay caches for client assertion and DPoP `jti`s).
 *
 * Handles that are bearer secrets (codes, refresh tokens, session cookies)
 * are stored under their SHA-256, never raw.
 */
export const RECORD_KINDS = [
  'grant',
  'authorization_code',
  'access_token',
  'refresh_token',
  'session',
  'interaction',
  'consent',
  'signing_key',
  'replay',
  'totp_last_step',
  'pushed_request',
  'login_failures',
  'grant_link',
  'ciba_request',
  'ciba_handle',
  'ciba_decision',
  'console_session',
  'console_login',
  'ciba_outbox',
  'dpop_nonce',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export interface StoredRecord<T> {
  readonly kind: RecordKind;
  readonly id: string;
  readonly value: T;
  readonly grantId: string | null;
  /** Seconds since the epoch; null means it never expires by itself. */
  readonly expiresAt: number | null;
  /** Set once by `consume`. */
  readonly consumedAt: number | null;
  readonly createdAt: number;
}

export interface WriteOptions {
  readonly expiresAt: number | null;
  readonly grantId?: string;
}

export interface ConsumeResult<T> {
  readonly record: StoredRecord<T>;
  /** True for exactly one caller, however many race. */
  readonly first: boolean;
}

/** The columns an audit record is found by (copies of fields of its entry, which alone is hashed). */
export interface AuditIndex {
  /** Milliseconds since the epoch. */
  readonly time: number;
  readonly event: string;
  readonly traceId: string | null;
  readonly sub: string | null;
  readonly client: string | null;
  readonly outcome: string;
}

/** One record of the append-only audit chain (packages/audit defines the hashing). */
export interface AuditRow extends AuditIndex {
  readonly seq: number;
  /** The event as canonical JSON: the hashed text. */
  readonly entry: string;
  readonly prev: string;
  readonly hash: string;
}

export interface AuditCheckpointRow {
  readonly seq: number;
  readonly hash: string;
  /** JWS by the IdP's signing key over `{iss, seq, hash, iat}`. */
  readonly signature: string;
  readonly createdAt: number;
}

export interface AuditQuery {
  readonly afterSeq?: number;
  readonly traceId?: string;
  readonly sub?: string;
  readonly client?: string;
  readonly event?: string;
  readonly outcome?: string;
  /** Milliseconds since the epoch. */
  readonly since?: number;
  readonly limit?: number;
}

/** Computes a record's hash from its predecessor's, its position and its text. */
export type AuditLink = (prev: string, seq: number, entry: string) => string;

/**
 * The audit trail's storage: append-only (UPDATE and DELETE are refused by
 * the database itself), appended atomically at the end of the chain however
 * many nodes write at once.
 */
export interface AuditStore {
  /** Appends entries in order, each linked to the one before; returns the new end of the chain. */
  appendAudit(
    entries: readonly { readonly entry: string; readonly index: AuditIndex }[],
    link: AuditLink,
    genesis: string,
  ): Promise<{ seq: number; hash: string }>;
  /** Records in sequence order matching the query (all of them without one). */
  readAudit(query?: AuditQuery): Promise<AuditRow[]>;
  addAuditCheckpoint(checkpoint: AuditCheckpointRow): Promise<void>;
  /** Copies a chain in verbatim (`palisade db import`); refused unless this store's trail is empty. */
  importAudit(rows: readonly AuditRow[], checkpoints: readonly AuditCheckpointRow[]): Promise<void>;
  auditCheckpoints(): Promise<AuditCheckpointRow[]>;
}

export interface Store extends AuditStore {
  /** Adds a record. Returns false (and changes nothing) when a live record with that id exists. */
  insert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<boolean>;
  /** Adds or replaces a record, keeping its creation time and consumption mark. */
  upsert<T>(kind: RecordKind, id: string, value: T, options: WriteOptions): Promise<void>;
  /** The live (unexpired) record, or undefined. */
  find<T>(kind: RecordKind, id: string): Promise<StoredRecord<T> | undefined>;
  /**
   * Adds one to a live counter record (`{ count }`), creating it at 1 — or
   * restarting it at 1 when expired — and sets its expiry. Returns the new
   * count. Atomic, so N racing callers see N distinct counts (login lockout).
   */
  increment(kind: RecordKind, id: string, expiresAt: number): Promise<number>;
  /** Marks a live record consumed, atomically; tells the caller whether it was first. */
  consume<T>(kind: RecordKind, id: string): Promise<ConsumeResult<T> | undefined>;
  delete(kind: RecordKind, id: string): Promise<void>;
  /** Deletes every record of a grant (revocation of a whole token family). Returns how many. */
  deleteByGrant(grantId: string): Promise<number>;
  /**
   * Every live record of a kind whose id starts with `prefix` (all of them
   * without one), oldest first. Ids built as `owner/item` make this an index
   * of items by owner (grants of a session, of a consent).
   */
  list<T>(kind: RecordKind, prefix?: string): Promise<StoredRecord<T>[]>;
  /** Removes expired records; safe to run from several processes at once. Returns how many. */
  sweep(): Promise<number>;
  close(): Promise<void>;
}
