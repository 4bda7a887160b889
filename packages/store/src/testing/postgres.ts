import { randomBytes } from 'node:crypto';
import pg from 'pg';

export interface TestDatabase {
  /** Why PostgreSQL tests cannot run here, or undefined when they can. */
  readonly unavailable: string | undefined;
  readonly url: string;
  /** A schema of this run's own; pass `options: -c search_path=<schema>` to every pool. */
  readonly schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/**
 * The machine's PostgreSQL for tests (127.0.0.1:5432, database `test`, or
 * PALISADE_TEST_DATABASE_URL), with a fresh schema per run. Without a server
 * it prints one `SKIP:` line; under CI=true a missing server is an error,
 * since CI always has one.
 */
export async function testDatabase(prefix: string): Promise<TestDatabase> {
  const url = process.env.PALISADE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const run = async (statement: string) => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query(statement);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  let unavailable: string | undefined;
  try {
    await run(`CREATE SCHEMA ${schema}`);
  } catch (error) {
    unavailable = `PostgreSQL not reachable at ${new URL(url).host} (${error instanceof Error ? error.message : 'error'})`;
  }
  if (unavailable && process.env.CI === 'true') throw new Error(`CI=true but ${unavailable}`);
  if (unavailable) console.log(`SKIP: ${unavailable}`);
  return { unavailable, url, schema, drop: () => run(`DROP SCHEMA ${schema} CASCADE`) };
}
