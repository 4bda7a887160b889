import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGateway, type Gateway, parseGatewayConfig } from '@palisade/gateway';
import type { AuditSink } from '@palisade/resource-server';
import { parse as parseYaml } from 'yaml';
import { type ConfigDocument, freePort, startTestIdp, type TestIdp } from './idp.js';
import { startTestTools, type TestTools } from './tools.js';

export const GATEWAY_CONFIG = fileURLToPath(new URL('../../../examples/demo/gateway.yaml', import.meta.url));

/** Every string of a document with one origin replaced by another (the gateway's canonical URI moves with its port). */
function retarget(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value.split(from).join(to);
  if (Array.isArray(value)) return value.map((item) => retarget(item, from, to));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [retarget(key, from, to) as string, retarget(item, from, to)]));
  return value;
}

export interface GatewayDomain {
  readonly server: TestIdp;
  readonly tools: TestTools;
  readonly gateway: Gateway;
  /** The gateway's MCP endpoint, which is also its canonical URI (the audience of its tokens). */
  readonly url: string;
  close(): Promise<void>;
}

export interface GatewayDomainOptions {
  readonly mode?: 'ping' | 'push';
  /** Seconds a call waits for approval. */
  readonly wait?: number;
  readonly audit?: { readonly bufferDir: string };
  readonly gatewayAudit?: AuditSink;
  readonly mutateIdp?: (document: ConfigDocument) => void;
}

/**
 * The demo domain for gateway tests: the IdP, the four tools and the gateway
 * from examples/demo/gateway.yaml, each on its own ephemeral port. The
 * gateway's canonical URI is where it listens (MCP clients check that the
 * metadata's `resource` is the URL they called), so the realm's
 * `http://127.0.0.1:9401` becomes that origin everywhere.
 */
export async function startGatewayDomain(options: GatewayDomainOptions = {}): Promise<GatewayDomain> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const server = await startTestIdp({
    mutate(document) {
      Object.assign(document, retarget(document, 'http://127.0.0.1:9401', origin));
      document.ciba = { ...(document.ciba as object), interval: 1 };
      options.mutateIdp?.(document);
    },
  });
  const tools = await startTestTools(server.issuer, () => server.clock.now(), options.audit);
  const listening: Record<string, string> = { '9410': tools.files, '9411': tools.reports, '9412': tools.payments, '9413': tools.hr };
  const document = parseYaml(readFileSync(GATEWAY_CONFIG, 'utf8')) as { tools: { call: { url: string } }[]; approvals: object };
  // A tool's audience is its name; where it listens in a test is another port.
  for (const tool of document.tools)
    tool.call.url = tool.call.url.replace(/^http:\/\/127\.0\.0\.1:(941[0-3])/, (_m, p: string) => listening[p] ?? '');
  document.approvals = { ...document.approvals, mode: options.mode ?? 'ping', wait: options.wait ?? 20, progress_interval: 1 };
  const config = parseGatewayConfig(document, 'test gateway', {
    PALISADE_IDP_PORT: new URL(server.issuer).port,
    PALISADE_GATEWAY_PORT: String(port),
  });
  const gateway = await createGateway(config, {
    now: () => server.clock.now(),
    ...(options.gatewayAudit ? { audit: options.gatewayAudit } : {}),
  });
  const url = await gateway.listen();
  return {
    server,
    tools,
    gateway,
    url,
    async close() {
      await gateway.close();
      await tools.close();
      await server.close();
    },
  };
}
