import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent, AuditSender } from '@palisade/audit';
import type { ManualClock } from '@palisade/core';
import { createGateway, type Gateway, type GatewayConfig, type GatewayOptions, parseGatewayConfig } from '@palisade/gateway';
import { toolAuditSender } from '@palisade/resource-server';
import type { AuditQuery } from '@palisade/store';
import { parse as parseYaml } from 'yaml';
import { authorizeInBrowser, ScriptedBrowser } from './browser.js';
import { field, post } from './http.js';
import { type ConfigDocument, DEMO, reservePort, startTestIdp, type TestIdp } from './idp.js';
import { startTestTools, type TestTools } from './tools.js';

export const GATEWAY_CONFIG = fileURLToPath(new URL('../../../examples/demo/gateway.yaml', import.meta.url));

/** Every string of a document with one origin replaced by another (the gateway's canonical URI moves with its port). */
export function retarget(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value.split(from).join(to);
  if (Array.isArray(value)) return value.map((item) => retarget(item, from, to));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [retarget(key, from, to) as string, retarget(item, from, to)]));
  return value;
}

/** The transfer the gateway tests make: above the EUR 10,000 approval threshold. */
export const TRANSFER_ARGS = { amount: '25000.00', currency: 'EUR', creditorName: 'Acme Supplies GmbH', iban: 'DE89370400440532013000' };
/** The payment alice allows her agent at sign-in: exactly this one (the realm's payment_initiation type is exact). */
export const TRANSFER_DETAIL = {
  type: 'payment_initiation',
  locations: [DEMO.tools.payments],
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount: TRANSFER_ARGS.amount },
  creditorName: TRANSFER_ARGS.creditorName,
  creditorAccount: { iban: TRANSFER_ARGS.iban },
};

export interface GatewayDomain {
  readonly server: TestIdp;
  readonly tools: TestTools;
  readonly gateway: Gateway;
  /** The gateway's parsed configuration (to start more nodes of it). */
  readonly config: GatewayConfig;
  /** The gateway's MCP endpoint, which is also its canonical URI (the audience of its tokens). */
  readonly url: string;
  /** The gateway's audit sender, when started with `audit`. */
  readonly gatewayAudit: AuditSender | undefined;
  /** Delivers every buffered audit event to the IdP's trail, then reads the events matching `query`. */
  trail(query?: AuditQuery): Promise<AuditEvent[]>;
  close(): Promise<void>;
}

export interface GatewayDomainOptions {
  readonly mode?: 'ping' | 'push';
  /** Seconds a call waits for approval. */
  readonly wait?: number;
  /** The tools and the gateway report to the IdP's audit trail (senders buffering in this directory). */
  readonly audit?: { readonly bufferDir: string };
  /** Where some tools are reached instead (a capturing server standing in for files, say): by their demo port. */
  readonly toolUrls?: Readonly<Partial<Record<'9410' | '9411' | '9412' | '9413', string>>>;
  readonly mutateIdp?: (document: ConfigDocument) => void;
  /** The IdP's clock (a real-time one for processes that compute TOTP codes from the wall clock). */
  readonly clock?: ManualClock;
  /** The gateway's log (pino options, e.g. a stream the test reads). */
  readonly gatewayLogger?: GatewayOptions['logger'];
}

/**
 * The demo domain for gateway tests: the IdP, the four tools and the gateway
 * from examples/demo/gateway.yaml, each on its own ephemeral port. The
 * gateway's canonical URI is where it listens (MCP clients check that the
 * metadata's `resource` is the URL they called), so the realm's
 * `http://127.0.0.1:9401` becomes that origin everywhere.
 */
export async function startGatewayDomain(options: GatewayDomainOptions = {}): Promise<GatewayDomain> {
  const reserved = await reservePort();
  const { port } = reserved;
  const origin = `http://127.0.0.1:${port}`;
  const server = await startTestIdp({
    ...(options.clock ? { clock: options.clock } : {}),
    mutate(document) {
      // Edits name the demo's gateway URI (http://127.0.0.1:9401/mcp); it moves with the rest.
      options.mutateIdp?.(document);
      Object.assign(document, retarget(document, 'http://127.0.0.1:9401', origin));
      document.ciba = { ...(document.ciba as object), interval: 1 };
    },
  });
  // Whatever fails from here on, nothing started stays running (a leaked server would keep the test process alive).
  let tools: TestTools | undefined;
  let gateway: Gateway | undefined;
  let gatewayAudit: AuditSender | undefined;
  try {
    tools = await startTestTools(server.issuer, () => server.clock.now(), options.audit);
    const listening: Record<string, string> = {
      '9410': tools.files,
      '9411': tools.reports,
      '9412': tools.payments,
      '9413': tools.hr,
      ...options.toolUrls,
    };
    const document = parseYaml(readFileSync(GATEWAY_CONFIG, 'utf8')) as { tools: { call: { url: string } }[]; approvals: object };
    // A tool's audience is its name; where it listens in a test is another port.
    for (const tool of document.tools)
      tool.call.url = tool.call.url.replace(/^http:\/\/127\.0\.0\.1:(941[0-3])/, (_m, p: string) => listening[p] ?? '');
    document.approvals = { ...document.approvals, mode: options.mode ?? 'ping', wait: options.wait ?? 20, progress_interval: 1 };
    const config = parseGatewayConfig(document, 'test gateway', {
      PALISADE_IDP_PORT: new URL(server.issuer).port,
      PALISADE_GATEWAY_PORT: String(port),
    });
    gatewayAudit = options.audit
      ? toolAuditSender({
          issuer: server.issuer,
          clientId: DEMO.mcpGateway.id,
          clientSecret: DEMO.mcpGateway.secret,
          component: 'gateway',
          bufferFile: join(options.audit.bufferDir, 'audit-gateway.jsonl'),
        })
      : undefined;
    gateway = await createGateway(config, {
      now: () => server.clock.now(),
      ...(gatewayAudit ? { audit: gatewayAudit } : {}),
      ...(options.gatewayLogger ? { logger: options.gatewayLogger } : {}),
    });
    await reserved.release();
    const url = await gateway.listen();
    const [started, running] = [gateway, tools];
    return {
      server,
      tools: running,
      gateway: started,
      config,
      url,
      gatewayAudit,
      async trail(query = {}) {
        await Promise.all([gatewayAudit, ...Object.values(running.senders ?? {})].map((sender) => sender?.flush()));
        await server.idp.context.audit.flush();
        return (await server.idp.context.store.readAudit(query)).map((row) => JSON.parse(row.entry) as AuditEvent);
      },
      async close() {
        await started.close();
        await gatewayAudit?.close();
        await running.close();
        await server.close();
      },
    };
  } catch (error) {
    await gateway?.close();
    await gatewayAudit?.close();
    await tools?.close();
    await server.close();
    await reserved.release();
    throw error;
  }
}

/** PKCE S256 (RFC 7636) for a scripted login. */
function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/**
 * Tokens for alice or bob through the palisade-cli agent: PAR with the
 * details, the person's login and consent, code + PKCE with `resource` (the
 * gateway unless told otherwise). Resolves with the tokens, or the error the
 * IdP sent back.
 */
export async function userTokens(
  domain: { readonly url: string; readonly server: Pick<TestIdp, 'issuer' | 'clock'> },
  user: 'alice' | 'bob',
  details: readonly Record<string, unknown>[],
  options: { resource?: string; scope?: string; browserAt?: string } = {},
): Promise<{ token?: string; refreshToken?: string; error?: string }> {
  const { issuer, clock } = domain.server;
  const { verifier, challenge } = pkce();
  const redirectUri = 'http://127.0.0.1:8790/callback';
  const resource = options.resource ?? domain.url;
  const pushed = await post(`${issuer}/par`, {
    client_id: DEMO.cli.id,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: options.scope ?? 'tools.access',
    resource,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: randomBytes(16).toString('base64url'),
    ...(details.length > 0 ? { authorization_details: JSON.stringify(details) } : {}),
  });
  if (pushed.status !== 201) return { error: String(pushed.body.error) };
  clock.advance(30);
  // browserAt: where the person's browser goes (the public address), when `issuer` is one node of a cluster.
  const front = options.browserAt ?? issuer;
  const authorize = `${front}/authorize?${new URLSearchParams({ client_id: DEMO.cli.id, request_uri: field(pushed, 'request_uri') })}`;
  const callback = await authorizeInBrowser(new ScriptedBrowser(front), authorize, { ...DEMO[user], now: clock.now() });
  const code = callback.searchParams.get('code');
  if (!code) return { error: callback.searchParams.get('error') ?? 'no_code' };
  const tokens = await post(`${issuer}/token`, {
    grant_type: 'authorization_code',
    client_id: DEMO.cli.id,
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource,
  });
  if (tokens.status !== 200) return { error: String(tokens.body.error) };
  const refreshToken = tokens.body.refresh_token;
  return { token: field(tokens, 'access_token'), ...(typeof refreshToken === 'string' ? { refreshToken } : {}) };
}

/** A gateway token for alice or bob (userTokens with the gateway as resource). */
export async function userGatewayToken(
  domain: GatewayDomain,
  user: 'alice' | 'bob',
  details: readonly Record<string, unknown>[],
): Promise<{ token?: string; error?: string }> {
  return userTokens(domain, user, details);
}
