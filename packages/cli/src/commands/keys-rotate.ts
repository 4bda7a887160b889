import { systemClock } from '@palisade/core';
import { Keystore, keyRetention, loadConfigFile } from '@palisade/idp';
import { openStore } from '../store.js';

/**
 * `palisade keys rotate --config FILE`: new active keys; the old ones stay
 * published until the tokens they signed have expired. Running servers pick
 * the new keys up within `keys.reload_interval`.
 */
export async function keysRotate(file: string | undefined): Promise<number> {
  if (!file) {
    process.stderr.write('usage: palisade keys rotate --config FILE\n');
    return 2;
  }
  const config = loadConfigFile(file);
  const store = await openStore(config);
  try {
    const retention = keyRetention(config);
    const keystore = new Keystore(store, systemClock, config.keys.algorithms, retention, config.issuer);
    await keystore.initialize();
    const created = await keystore.rotate();
    process.stdout.write(`rotated: new key ids ${created.join(', ')}; previous keys stay published for ${retention} s\n`);
    return 0;
  } finally {
    await store.close();
  }
}
