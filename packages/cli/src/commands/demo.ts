import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '@palisade/idp';
import { createFilesTool, createHrLegacyTool, createPaymentsTool, createReportsTool } from '@palisade/tools-demo';
import { closeOnSignal, type Running, serveIdp } from './serve.js';

/** The demo tools on 9410–9413, each its own server trusting only tokens for itself. */
async function serveTools(issuer: string): Promise<Running> {
  const env = process.env;
  const tools = [
    { name: 'Files tool', port: 9410, app: createFilesTool({ issuer, audience: 'http://127.0.0.1:9410' }) },
    {
      name: 'Reports tool',
      port: 9411,
      app: createReportsTool({
        issuer,
        audience: 'http://127.0.0.1:9411',
        filesAudience: 'http://127.0.0.1:9410',
        clientId: 'report-service',
        clientSecret: env.REPORT_SERVICE_SECRET ?? 'report-service-secret',
      }),
    },
    {
      name: 'Payments tool',
      port: 9412,
      app: createPaymentsTool({ issuer, audience: 'http://127.0.0.1:9412', approvalThresholds: { EUR: '10000.00' } }),
    },
    { name: 'HR (legacy, SAML only)', port: 9413, app: createHrLegacyTool({ issuer, audience: 'http://127.0.0.1:9413' }) },
  ];
  for (const tool of tools) await tool.app.listen({ host: '127.0.0.1', port: tool.port });
  return {
    urls: Object.fromEntries(tools.map((t) => [t.name, `http://127.0.0.1:${t.port}`])),
    async close() {
      for (const tool of tools) await tool.app.close();
    },
  };
}

/** examples/demo/palisade.yaml at the repository root. */
export const DEMO_CONFIG = fileURLToPath(new URL('../../../../../examples/demo/palisade.yaml', import.meta.url));

/** `palisade demo`: the whole demo domain in one process on loopback. */
export async function demo(): Promise<number> {
  const config = loadConfigFile(DEMO_CONFIG);
  const idp = await serveIdp(config);
  const tools = await serveTools(config.issuer);
  const running: Running = {
    urls: { ...idp.urls, ...tools.urls },
    async close() {
      await tools.close();
      await idp.close();
    },
  };
  closeOnSignal(running);
  const lines = [
    'Palisade demo domain is running (development only; see examples/demo/palisade.yaml).',
    '',
    ...Object.entries(running.urls).map(([name, url]) => `  ${name.padEnd(30)} ${url}`),
    '',
    '  Accounts   alice / alice-password (TOTP secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP, group finance)',
    '             bob / bob-password (group engineering)',
    '  Clients    ops-bot / ops-bot-secret (client_credentials)',
    '             mcp-gateway, report-service (token exchange; mcp-gateway also CIBA ping)',
    '             mcp-gateway-push / mcp-gateway-push-secret (CIBA push)',
    '             assistant / assistant-secret (authorization code + PKCE, refresh, CIBA poll)',
    '             palisade-cli (public, loopback redirect on any port)',
    `  Data       ${config.data_dir}`,
    '',
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
