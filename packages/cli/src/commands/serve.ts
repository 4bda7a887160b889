import { createIdp, type ParsedConfig } from '@palisade/idp';
import { openStore } from '../store.js';

export interface Running {
  readonly urls: Record<string, string>;
  close(): Promise<void>;
}

/** Starts the IdP of a configuration and closes it cleanly on SIGINT/SIGTERM. */
export async function serveIdp(config: ParsedConfig): Promise<Running> {
  const store = await openStore(config, { server: true });
  const idp = await createIdp({ config, store, logger: { level: process.env.PALISADE_LOG_LEVEL ?? 'warn' } });
  await idp.listen();
  return {
    urls: {
      'Identity provider (issuer)': config.issuer,
      'OpenID discovery': `${config.issuer}/.well-known/openid-configuration`,
      'Authentication device (CIBA)': `${config.issuer}/device`,
    },
    async close() {
      await idp.close();
      await store.close();
    },
  };
}

export function closeOnSignal(running: Running): void {
  const stop = () => {
    void running.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
