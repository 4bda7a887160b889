import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '@palisade/idp';
import { closeOnSignal, serveIdp } from './serve.js';

/** examples/demo/palisade.yaml at the repository root. */
export const DEMO_CONFIG = fileURLToPath(new URL('../../../../../examples/demo/palisade.yaml', import.meta.url));

/** `palisade demo`: the whole demo domain in one process on loopback. */
export async function demo(): Promise<number> {
  const config = loadConfigFile(DEMO_CONFIG);
  const running = await serveIdp(config);
  closeOnSignal(running);
  const lines = [
    'Palisade demo domain is running (development only; see examples/demo/palisade.yaml).',
    '',
    ...Object.entries(running.urls).map(([name, url]) => `  ${name.padEnd(30)} ${url}`),
    '',
    '  Accounts   alice / alice-password (TOTP secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP, group finance)',
    '             bob / bob-password (group engineering)',
    '  Clients    ops-bot / ops-bot-secret (client_credentials)',
    '             assistant / assistant-secret (authorization code + PKCE, refresh)',
    '             palisade-cli (public, loopback redirect on any port)',
    `  Data       ${config.data_dir}`,
    '',
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
