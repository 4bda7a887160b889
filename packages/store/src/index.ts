export { MIGRATIONS, migrate, PostgresStore } from './postgres.js';
export { SqliteStore } from './sqlite.js';
export type { ConsumeResult, RecordKind, Store, StoredRecord, WriteOptions } from './store.js';
