import { type AuditEvent, type ChainRecord, type VerifyReport, verifyChain } from '@palisade/audit';
import type { AuditRow, Store } from '@palisade/store';
import { createLocalJWKSet, type JSONWebKeySet } from 'jose';

const PAGE = 1000;

/** Every record in order, read a page at a time (the trail can be large). */
async function* allRecords(store: Store): AsyncGenerator<AuditRow> {
  let after = 0;
  for (;;) {
    const page = await store.readAudit({ afterSeq: after, limit: PAGE });
    yield* page;
    if (page.length < PAGE) return;
    after = page.at(-1)?.seq ?? after;
  }
}

/** The index columns must say what the hashed entry says, or a query could be made to lie. */
function indexMismatch(row: AuditRow): string | undefined {
  let event: AuditEvent;
  try {
    event = JSON.parse(row.entry) as AuditEvent;
  } catch {
    return 'is not JSON';
  }
  if (event.event !== row.event || event.outcome !== row.outcome) return 'has event or outcome columns that differ from its entry';
  if ((event.sub ?? null) !== row.sub || (event.client ?? null) !== row.client || (event.trace_id ?? null) !== row.traceId) {
    return 'has user, client or trace columns that differ from its entry';
  }
  if (Date.parse(event.time) !== row.time) return 'has a time column that differs from its entry';
  return undefined;
}

/**
 * `palisade audit verify`: the whole chain recomputed from the first record,
 * every checkpoint's signature checked against the IdP's published keys
 * (current and retired), and each record's search columns compared with its
 * hashed entry.
 */
export async function verifyAuditTrail(store: Store, issuer: string, jwks: JSONWebKeySet): Promise<VerifyReport> {
  let columns: { seq: number; message: string } | undefined;
  async function* checked(): AsyncGenerator<ChainRecord> {
    for await (const row of allRecords(store)) {
      const mismatch = indexMismatch(row);
      if (mismatch && !columns) columns = { seq: row.seq, message: `record ${row.seq} ${mismatch}` };
      yield row;
    }
  }
  const report = await verifyChain(checked(), await store.auditCheckpoints(), createLocalJWKSet(jwks), issuer);
  if (columns && (report.ok || (report.problem?.seq ?? Number.POSITIVE_INFINITY) > columns.seq)) {
    return { ...report, ok: false, problem: { seq: columns.seq, kind: 'edited', message: columns.message } };
  }
  return report;
}
