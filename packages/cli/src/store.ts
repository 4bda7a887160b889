import { join, resolve } from 'node:path';
import type { ParsedConfig } from '@palisade/idp';
import { PostgresStore, SqliteStore, type Store } from '@palisade/store';

/**
 * The store of a configuration: PostgreSQL when `store.postgres` is set
 * (clustered, many nodes), else the embedded SQLite file `palisade.db` in
 * the data directory (relative to the working directory).
 */
export async function openStore(config: ParsedConfig, options: { migrate?: boolean } = {}): Promise<Store> {
  const postgres = config.store.postgres;
  if (postgres) {
    return PostgresStore.connect(
      { connectionString: postgres.url, max: postgres.pool_size },
      { migrate: options.migrate ?? postgres.migrate_on_start },
    );
  }
  // Servers run for long: writes, and WAL checkpoints with their fsync, on worker threads, off the event loop.
  return new SqliteStore(join(resolve(config.data_dir), 'palisade.db'), undefined, { backgroundCheckpoints: true, writerThread: true });
}
