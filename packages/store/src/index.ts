export { MIGRATIONS, migrate, PostgresStore } from './postgres.js';
export { type SqliteOptions, SqliteStore } from './sqlite.js';
export type {
  AuditCheckpointRow,
  AuditIndex,
  AuditLink,
  AuditQuery,
  AuditRow,
  AuditStore,
  ConsumeResult,
  RecordKind,
  Store,
  StoredRecord,
  WriteOptions,
} from './store.js';
export { RECORD_KINDS } from './store.js';
export { type ExportLine, exportStore, importStore } from './transfer.js';
