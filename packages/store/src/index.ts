export type { ConsumeResult, RecordKind, Store, StoredRecord, WriteOptions } from './store.js';
export { SqliteStore } from './sqlite.js';
