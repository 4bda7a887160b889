import type { AuditQuery } from './store.js';

/**
 * The WHERE clause and parameters of an audit query, shared by both
 * adapters (named `$param` placeholders; SQLite spells them `@param`).
 */
export function auditWhere(query: AuditQuery, prefix: '$' | '@'): { where: string; params: Record<string, unknown> } {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
  const add = (column: string, name: string, value: unknown, op = '=') => {
    if (value === undefined) return;
    clauses.push(`${column} ${op} ${prefix}${name}`);
    params[name] = value;
  };
  add('seq', 'afterSeq', query.afterSeq, '>');
  add('trace_id', 'traceId', query.traceId);
  add('sub', 'sub', query.sub);
  add('client', 'client', query.client);
  add('event', 'event', query.event);
  add('outcome', 'outcome', query.outcome);
  add('time', 'since', query.since, '>=');
  params.limit = query.limit ?? -1;
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export interface AuditSqlRow {
  seq: number | string;
  entry: string;
  prev: string;
  hash: string;
  time: number | string;
  event: string;
  trace_id: string | null;
  sub: string | null;
  client: string | null;
  outcome: string;
}

export function toAuditRow(row: AuditSqlRow) {
  return {
    seq: Number(row.seq),
    entry: row.entry,
    prev: row.prev,
    hash: row.hash,
    time: Number(row.time),
    event: row.event,
    traceId: row.trace_id,
    sub: row.sub,
    client: row.client,
    outcome: row.outcome,
  };
}
