import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditSender } from '@palisade/audit';
import { loadGatewayConfig } from '@palisade/gateway';
import { loadConfigFile } from '@palisade/idp';
import { toolAuditSender } from '@palisade/resource-server';
import { createFilesTool, createHrLegacyTool, createPaymentsTool, createReportsTool } from '@palisade/tools-demo';
import { walkthrough } from '../demo/walkthrough.js';
import { openStore } from '../store.js';
import { serveGateway } from './gateway.js';
import { closeOnSignal, type Running, serveIdp } from './serve.js';

/**
 * The demo tools on 9410–9413, each its own server trusting only tokens for
 * itself, each reporting its decisions to the IdP's audit trail under its
 * own client (events wait in the data directory while the IdP is away).
 */
export async function serveTools(issuer: string, dataDir: string, only?: string): Promise<Running> {
  const env = process.env;
  // Audit events wait in the data directory while the IdP is away; a tool started alone may be first there.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const senders: AuditSender[] = [];
  const audit = (name: string, clientId: string, secret: string | undefined) => {
    const sender = toolAuditSender({
      issuer,
      clientId,
      clientSecret: secret ?? `${clientId}-secret`,
      component: `tool:${name}`,
      bufferFile: join(dataDir, `audit-${name}.jsonl`),
      onError: (message) => process.stderr.write(`tool:${name}: ${message}\n`),
    });
    senders.push(sender);
    return sender;
  };
  const tools = [
    {
      short: 'files',
      name: 'Files tool',
      port: 9410,
      app: createFilesTool({ issuer, audience: 'http://127.0.0.1:9410', audit: audit('files', 'files-service', env.FILES_SERVICE_SECRET) }),
    },
    {
      short: 'reports',
      name: 'Reports tool',
      port: 9411,
      app: createReportsTool({
        issuer,
        audience: 'http://127.0.0.1:9411',
        filesAudience: 'http://127.0.0.1:9410',
        clientId: 'report-service',
        clientSecret: env.REPORT_SERVICE_SECRET ?? 'report-service-secret',
        audit: audit('reports', 'report-service', env.REPORT_SERVICE_SECRET),
        introspect: true,
      }),
    },
    {
      short: 'payments',
      name: 'Payments tool',
      port: 9412,
      app: createPaymentsTool({
        issuer,
        audience: 'http://127.0.0.1:9412',
        approvalThresholds: { EUR: '10000.00' },
        audit: audit('payments', 'payments-service', env.PAYMENTS_SERVICE_SECRET),
      }),
    },
    {
      short: 'hr',
      name: 'HR (legacy, SAML only)',
      port: 9413,
      app: createHrLegacyTool({ issuer, audience: 'http://127.0.0.1:9413', audit: audit('hr', 'hr-service', env.HR_SERVICE_SECRET) }),
    },
  ];
  const chosen = only ? tools.filter((tool) => tool.short === only) : tools;
  for (const tool of tools) if (!chosen.includes(tool)) await tool.app.close();
  for (const tool of chosen) await tool.app.listen({ host: '127.0.0.1', port: tool.port });
  return {
    urls: Object.fromEntries(chosen.map((t) => [t.name, `http://127.0.0.1:${t.port}`])),
    async close() {
      for (const tool of chosen) await tool.app.close();
      for (const sender of senders) await sender.close();
    },
  };
}

/** examples/demo/palisade.yaml at the repository root. */
export const DEMO_CONFIG = fileURLToPath(new URL('../../../../../examples/demo/palisade.yaml', import.meta.url));
/** examples/demo/gateway.yaml: the MCP gateway in front of the demo tools. */
export const DEMO_GATEWAY_CONFIG = fileURLToPath(new URL('../../../../../examples/demo/gateway.yaml', import.meta.url));

/** The whole demo domain in one process on loopback: IdP, tools, gateway. */
/** The gateway configuration beside an IdP configuration (`gateway.yaml` in its directory), else the demo's. */
function gatewayConfigFor(file: string): string {
  const beside = join(dirname(file), 'gateway.yaml');
  return existsSync(beside) ? beside : DEMO_GATEWAY_CONFIG;
}

async function startDomain(file = DEMO_CONFIG): Promise<Running> {
  const config = loadConfigFile(file);
  const idp = await serveIdp(config);
  const tools = await serveTools(config.issuer, config.data_dir);
  const gateway = await serveGateway(loadGatewayConfig(gatewayConfigFor(file)));
  return {
    urls: { ...idp.urls, ...gateway.urls, ...tools.urls },
    async close() {
      await gateway.close();
      await tools.close();
      await idp.close();
    },
  };
}

/** `palisade start [--config FILE]` (npm start): every component in one process, until Ctrl+C. */
export async function start(file: string | undefined): Promise<number> {
  const config = loadConfigFile(file ?? DEMO_CONFIG);
  const running = await startDomain(file);
  closeOnSignal(running);
  const lines = [
    'Palisade demo domain is running (development only; see examples/demo/palisade.yaml and gateway.yaml).',
    '',
    ...Object.entries(running.urls).map(([name, url]) => `  ${name.padEnd(30)} ${url}`),
    '',
    '  Accounts   alice / alice-password (TOTP secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP, group finance)',
    '             bob / bob-password (group engineering)',
    '  Clients    ops-bot / ops-bot-secret (client_credentials)',
    '             mcp-gateway, report-service (token exchange; mcp-gateway also CIBA ping)',
    '             mcp-gateway-push / mcp-gateway-push-secret (CIBA push)',
    '             files-service, payments-service, hr-service (their audit events)',
    '             assistant / assistant-secret (authorization code + PKCE, refresh, CIBA poll)',
    '             palisade-cli (public, loopback redirect on any port)',
    `  Data       ${config.data_dir}`,
    '',
    'In another terminal, `npx palisade demo` walks through every flow (`--headless --auto-approve` runs it unattended).',
    'Press Ctrl+C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function reachable(issuer: string): Promise<boolean> {
  try {
    const response = await fetch(`${issuer}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * `palisade demo`: the guided walkthrough (demo/walkthrough.ts) against the
 * running demo domain, or one it starts for the occasion. PALISADE_ISSUER
 * and PALISADE_GATEWAY point it elsewhere; the trail is read from the store
 * of `--config` (the demo realm's by default).
 */
export async function demo(options: { headless: boolean; autoApprove: boolean; config: string | undefined }): Promise<number> {
  const config = loadConfigFile(options.config ?? DEMO_CONFIG);
  const issuer = process.env.PALISADE_ISSUER ?? config.issuer;
  const gateway = process.env.PALISADE_GATEWAY ?? 'http://127.0.0.1:9401/mcp';
  const started = (await reachable(issuer)) ? undefined : await startDomain();
  if (started) process.stdout.write('Started the demo domain for this walkthrough (it stops at the end).\n');
  const store = await openStore(config).catch(() => undefined);
  try {
    const failures = await walkthrough({
      issuer,
      gateway,
      headless: options.headless,
      autoApprove: options.autoApprove,
      store,
      out: (text) => process.stdout.write(text),
    });
    return failures === 0 ? 0 : 1;
  } finally {
    await store?.close();
    await started?.close();
  }
}
