import { systemClock } from '@palisade/core';
import { type AuditTrail, Keystore, keyRetention, openAuditTrail, type ParsedConfig } from '@palisade/idp';
import type { Store } from '@palisade/store';
import { stderrLogger } from './log.js';

/** Runs an administrative command with the realm's audit trail open, so what it does is recorded (component `cli`). */
export async function withAuditTrail<T>(
  store: Store,
  config: ParsedConfig,
  run: (audit: AuditTrail, keystore: Keystore) => Promise<T>,
): Promise<T> {
  const keystore = new Keystore(store, systemClock, config.keys.algorithms, keyRetention(config), config.issuer);
  await keystore.initialize();
  const audit = await openAuditTrail(store, config, keystore, systemClock, stderrLogger, 'cli');
  try {
    return await run(audit, keystore);
  } finally {
    await audit.close();
  }
}
