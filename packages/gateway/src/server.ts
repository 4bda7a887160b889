import { readFileSync } from 'node:fs';
import { type NodeIncomingMessageLike, toNodeHandler } from '@modelcontextprotocol/node';
import { InvalidRequest, jsonDepth, OAuthError } from '@palisade/core';

import { type AuditSink, DpopKey, requireScope, ServiceClient, TokenExchanger, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf, traceOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { Approvals, TOOL_CALL_TYPE } from './approval.js';
import { authorizeCall, type CallContext } from './call.js';
import type { GatewayConfig } from './config.js';
import { authInfoOf, mcpHandler } from './mcp.js';
import { GatewayMetrics, operationsRoutes } from './ops.js';
import type { Arguments } from './template.js';
import { GatewayTool } from './tools.js';

/** Nesting of a JSON-RPC body the gateway accepts: tool arguments are records, not towers. */
const MAX_JSON_DEPTH = 32;

export interface GatewayOptions {
  /** Seconds since the epoch (tests pass the IdP's clock). */
  readonly now?: () => number;
  /** Where the gateway's decisions go (the IdP's audit trail, through toolAuditSender). */
  readonly audit?: AuditSink;
  /** Port to listen on instead of the configured one (tests: 0). */
  readonly port?: number;
  /** Fastify/pino logger options (structured JSON; off by default). */
  readonly logger?: FastifyServerOptions['logger'];
  /** Reuse exchanged tokens until shortly before they expire (default true; the benchmark's cold figure turns it off). */
  readonly exchangeCache?: boolean;
}

/** Query strings can carry (misplaced) tokens: the log records method and path only (SECURITY L3, M8). */
function requestForLog(request: { method: string; url: string }) {
  return { method: request.method, path: request.url.split('?')[0] };
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly approvals: Approvals;
  /** Where it listens, once started. */
  url: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

const VERSION = '0.1.0';

interface JsonRpcCall {
  method?: unknown;
  params?: { name?: unknown; arguments?: unknown };
}

/** The tools/call messages of a POST body (one message, or a 2025-03-26 batch). */
function toolCalls(body: unknown): { name: string; args: Arguments }[] {
  const messages = Array.isArray(body) ? body : [body];
  return messages
    .filter((m): m is JsonRpcCall => m !== null && typeof m === 'object' && (m as JsonRpcCall).method === 'tools/call')
    .flatMap((m) => {
      const name = m.params?.name;
      const args = m.params?.arguments ?? {};
      return typeof name === 'string' && args !== null && typeof args === 'object' && !Array.isArray(args)
        ? [{ name, args: args as Arguments }]
        : [];
    });
}

function bearerOf(request: FastifyRequest): string | undefined {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(request.headers.authorization ?? '');
  return match?.[1];
}

/**
 * The MCP gateway (docs/gateway.md): an OAuth-protected MCP server at the
 * configured resource URI. Every request carries a token for the gateway
 * alone (RFC 8707); every tools/call is checked against the token's
 * authorization details before anything else, approved by a person when it
 * is sensitive (CIBA), and carried out with a token exchanged for the tool
 * (RFC 8693) — the caller's token never goes further.
 */
export async function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const clock = options.now ? { now } : {};
  const { issuer, resource } = config;
  const verifier = new TokenVerifier({ issuer, audience: resource, dpop: { required: config.dpop.require_for_callers }, ...clock });
  // A token lifted from this process (memory, a log, a proxy) is useless without this key, which never leaves it (RFC 9449).
  const dpop = config.dpop.bind_downstream_tokens ? { dpop: await DpopKey.generate({ now }) } : {};
  const own = { issuer, clientId: config.client.client_id, clientSecret: config.client.client_secret, ...clock, ...dpop };
  const exchanger = new TokenExchanger({ ...own, ...(options.exchangeCache === false ? { cache: false } : {}) });
  const cibaClient =
    config.approvals.mode === 'push' && config.approvals.push_client
      ? new ServiceClient({
          issuer,
          clientId: config.approvals.push_client.client_id,
          clientSecret: config.approvals.push_client.client_secret,
          ...clock,
          ...dpop,
        })
      : new ServiceClient(own);
  const approvals = new Approvals({
    issuer,
    resource,
    mode: config.approvals.mode,
    client: cibaClient,
    verifier,
    wait: config.approvals.wait,
    progressInterval: config.approvals.progress_interval,
    now,
  });
  const tools = config.tools.map((tool) => new GatewayTool(tool));
  const byName = new Map(tools.map((tool) => [tool.name, tool]));
  const { logger } = options;
  const { tls } = config.listen;
  const app = Fastify({
    logger: logger ? { ...(typeof logger === 'object' ? logger : {}), serializers: { req: requestForLog } } : false,
    bodyLimit: 1024 * 1024,
    requestIdHeader: false,
    ...(tls
      ? { https: { cert: readFileSync(tls.cert_file, 'utf8'), key: readFileSync(tls.key_file, 'utf8'), minVersion: 'TLSv1.2' as const } }
      : {}),
  });
  // API answers only, never framed or sniffed; an https gateway tells clients to stay on https (RFC 6797).
  const hsts = resource.startsWith('https:');
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    reply.header('referrer-policy', 'no-referrer');
    if (hsts) reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });
  const metrics = new GatewayMetrics(() => approvals.waiting);
  // Each decision: counted, logged for operators (who, which tool, the outcome, the trace; never a token), and audited.
  const decisions: AuditSink = {
    send(draft) {
      const { event, outcome, reason, trace_id: traceId, sub, client, data } = draft;
      app.log.info({ event, outcome, reason, trace_id: traceId, sub, client, operation: data?.operation }, 'tool call');
      options.audit?.send(draft);
    },
  };
  const call: CallContext = { resource, exchanger, approvals, audit: metrics.counting(decisions) };
  const handler = mcpHandler({ name: config.name, version: VERSION, tools, call });
  const serve = toNodeHandler(handler);
  const mcpPath = new URL(resource).pathname;
  const origin = new URL(resource).origin;

  operationsRoutes(app, metrics, issuer);

  // CIBA notifications (§10.2 ping, §10.3 push): authenticated by the call's own client_notification_token, not by OAuth.
  app.post<{ Body: Record<string, unknown> }>(`/ciba/${config.approvals.mode}`, async (request, reply) => {
    const bearer = bearerOf(request);
    const body = request.body !== null && typeof request.body === 'object' ? request.body : {};
    if (!bearer || !approvals.deliver(bearer, body)) {
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
    }
    return reply.code(204).send();
  });

  await app.register(async (scope) => {
    const types = [...new Set(tools.flatMap((tool) => tool.config.requires.map((detail) => String(detail.type)))), TOOL_CALL_TYPE];
    protect(scope, verifier, { name: config.name, scopes: config.scopes, authorizationDetailsTypes: types });
    // After protect's trace hook: every log line of the request carries its trace id.
    scope.addHook('onRequest', async (request, reply) => {
      request.log = request.log.child({ trace_id: traceOf(request) });
      reply.log = request.log;
    });
    scope.route({
      method: ['GET', 'POST', 'DELETE'],
      url: mcpPath,
      // Before the MCP layer sees the request: origin, scopes, and the coverage of every tools/call in it.
      preHandler: async (request) => {
        // MCP transport security: a browser page on another origin must not drive the gateway (DNS rebinding).
        const from = request.headers.origin;
        if (from !== undefined && from !== origin) throw new OAuthError('access_denied', 403, 'this origin may not call the gateway');
        // SECURITY J2: no MCP message nests this deep; a hostile one would exhaust the stack of whatever walks it.
        if (jsonDepth(request.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw InvalidRequest('the request is nested too deeply');
        const token = tokenOf(request);
        for (const needed of config.scopes) requireScope(token, needed);
        for (const { name, args } of toolCalls(request.body)) {
          const tool = byName.get(name);
          if (tool) authorizeCall(call, token, tool, args);
        }
      },
      handler: async (request, reply) => {
        // The gateway keeps no MCP sessions: each request stands on its own token, and a session id
        // from anywhere (another user's, an old one) is unknown here (SECURITY M10).
        if (request.headers['mcp-session-id'] !== undefined) {
          return reply
            .code(404)
            .send({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found: this server keeps no sessions' } });
        }
        reply.hijack();
        // The SDK's duck type of IncomingMessage declares `method` required; Node's is optional but always set on a server request.
        const raw = request.raw as unknown as NodeIncomingMessageLike;
        raw.auth = authInfoOf(tokenOf(request), resource);
        await serve(raw, reply.raw, request.body);
        return reply;
      },
    });
  });

  const gateway: Gateway = {
    app,
    approvals,
    url: resource,
    async listen() {
      const address = await app.listen({ host: config.listen.host, port: options.port ?? config.listen.port });
      gateway.url = `${address}${mcpPath}`;
      return gateway.url;
    },
    async close() {
      await handler.close();
      await app.close();
    },
  };
  return gateway;
}
