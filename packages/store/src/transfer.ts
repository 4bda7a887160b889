import { type AuditCheckpointRow, type AuditRow, RECORD_KINDS, type RecordKind, type Store } from './store.js';

/** One line of an export (JSON Lines): a record, an audit record, or a checkpoint. */
export type ExportLine =
  | {
      readonly type: 'record';
      readonly kind: RecordKind;
      readonly id: string;
      readonly value: unknown;
      readonly grantId: string | null;
      readonly expiresAt: number | null;
      readonly consumed: boolean;
    }
  | { readonly type: 'audit'; readonly row: AuditRow }
  | { readonly type: 'checkpoint'; readonly checkpoint: AuditCheckpointRow };

/**
 * Everything a store holds that is still alive, as lines (`palisade db
 * export`): every record of every kind with its expiry, grant and whether it
 * was consumed, then the audit chain and its checkpoints verbatim. Moving
 * from the embedded store to PostgreSQL (or back) is export, then import.
 */
export async function* exportStore(store: Store): AsyncGenerator<ExportLine> {
  for (const kind of RECORD_KINDS) {
    for (const record of await store.list(kind)) {
      yield {
        type: 'record',
        kind,
        id: record.id,
        value: record.value,
        grantId: record.grantId,
        expiresAt: record.expiresAt,
        consumed: record.consumedAt !== null,
      };
    }
  }
  for (const row of await store.readAudit()) yield { type: 'audit', row };
  for (const checkpoint of await store.auditCheckpoints()) yield { type: 'checkpoint', checkpoint };
}

/**
 * Loads an export into a store (`palisade db import`). Records keep their
 * ids, expiry, grant and consumed mark (a used code or a rotated refresh
 * token stays used, so reuse detection still works); the audit chain is
 * copied as is, hashes and checkpoints included, and only into an empty
 * trail. Only into an empty store. Creation times become the time of import.
 */
export async function importStore(
  store: Store,
  lines: AsyncIterable<ExportLine> | Iterable<ExportLine>,
): Promise<{ records: number; audit: number }> {
  // Into an empty store only: a merge could mix two realms' keys and grants, and a half-done import must not pass for a whole one.
  for (const kind of RECORD_KINDS) {
    if ((await store.list(kind)).length > 0) throw new Error(`the target store is not empty (it has ${kind} records)`);
  }
  if ((await store.readAudit({ limit: 1 })).length > 0) throw new Error('the audit trail of the target store is not empty');
  const audit: AuditRow[] = [];
  const checkpoints: AuditCheckpointRow[] = [];
  let records = 0;
  for await (const line of lines) {
    if (line.type === 'audit') audit.push(line.row);
    else if (line.type === 'checkpoint') checkpoints.push(line.checkpoint);
    else if (line.type === 'record') {
      if (!(RECORD_KINDS as readonly string[]).includes(line.kind)) throw new Error(`unknown record kind ${line.kind}`);
      const options = { expiresAt: line.expiresAt, ...(line.grantId ? { grantId: line.grantId } : {}) };
      if (!(await store.insert(line.kind, line.id, line.value, options)))
        throw new Error(`record ${line.kind}/${line.id} already exists in the target`);
      if (line.consumed) await store.consume(line.kind, line.id);
      records++;
    }
  }
  if (audit.length > 0 || checkpoints.length > 0) await store.importAudit(audit, checkpoints);
  return { records, audit: audit.length };
}
