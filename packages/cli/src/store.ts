import { join, resolve } from 'node:path';
import type { ParsedConfig } from '@palisade/idp';
import { PostgresStore, SqliteStore, type Store } from '@palisade/store';

/**
 * The store of a configuration: PostgreSQL when `store.postgres` is set
 * (clustered, many nodes), else the embedded SQLite file `palisade.db` in
 * the data directory (relative to the working directory).
 */
export async function openStore(config: ParsedConfig, options: { migrate?: boolean; server?: boolean } = {}): Promise<Store> {
  const postgres = config.store.postgres;
  if (postgres) {
    return PostgresStore.connect(
      { connectionString: postgres.url, max: postgres.pool_size },
      { migrate: options.migrate ?? postgres.migrate_on_start },
    );
  }
  // WAL checkpoints (and their fsync) on a worker thread, off the event loop; a server's writes too,
  // while one-shot commands write on their own connection, linking audit records inside the transaction.
  return new SqliteStore(join(resolve(config.data_dir), 'palisade.db'), undefined, {
    backgroundCheckpoints: true,
    writerThread: options.server === true,
  });
}
