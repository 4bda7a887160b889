import { join, resolve } from 'node:path';
import type { ParsedConfig } from '@palisade/idp';
import { SqliteStore, type Store } from '@palisade/store';

/** The embedded store of a configuration: `palisade.db` in its data directory (relative to the working directory). */
export function openStore(config: ParsedConfig): Store {
  return new SqliteStore(join(resolve(config.data_dir), 'palisade.db'));
}
