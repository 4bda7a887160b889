import { loadConfigFile } from '@palisade/idp';
import { migrate } from '@palisade/store';
import pg from 'pg';

/** `palisade db migrate --config FILE`: applies pending PostgreSQL schema migrations (idempotent, safe to run from several nodes). */
export async function dbMigrate(file: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write('usage: palisade db migrate --config FILE\n');
    return 2;
  }
  const config = loadConfigFile(file);
  if (!config.store.postgres) {
    process.stdout.write('the configuration uses the embedded SQLite store, which needs no migration\n');
    return 0;
  }
  const pool = new pg.Pool({ connectionString: config.store.postgres.url, max: 1 });
  try {
    const applied = await migrate(pool);
    process.stdout.write(applied.length === 0 ? 'schema up to date\n' : `applied migrations ${applied.join(', ')}\n`);
    return 0;
  } finally {
    await pool.end();
  }
}
