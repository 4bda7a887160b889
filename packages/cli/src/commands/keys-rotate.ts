import { keyRetention, loadConfigFile } from '@palisade/idp';
import { withAuditTrail } from '../audit-trail.js';
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
    const created = await withAuditTrail(store, config, async (audit, keystore) => {
      const kids = await keystore.rotate();
      audit.record({ event: 'key.rotated', outcome: 'success', data: { kids } });
      return kids;
    });
    process.stdout.write(`rotated: new key ids ${created.join(', ')}; previous keys stay published for ${retention} s\n`);
    return 0;
  } finally {
    await store.close();
  }
}
