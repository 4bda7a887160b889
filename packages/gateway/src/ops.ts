import type { AuditDraft } from '@palisade/audit';
import type { AuditSink } from '@palisade/resource-server';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one gateway (its own registry): HTTP requests and
 * latency by route and status, tool calls by tool and outcome, approvals
 * waiting for a person. Labels come from the configuration (tool names) and
 * fixed sets (outcomes), never from a caller's input.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'palisade_gateway_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'palisade_gateway_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
    registers: [this.registry],
  });
  readonly toolCalls = new Counter({
    name: 'palisade_gateway_tool_calls_total',
    help: 'tools/call decisions by tool and outcome (allowed, or the refusal reason)',
    labelNames: ['tool', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(waiting: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'palisade_gateway_' });
    new Gauge({
      name: 'palisade_gateway_approvals_waiting',
      help: 'Tool calls waiting for a person to approve them on their device',
      registers: [this.registry],
      collect() {
        this.set(waiting());
      },
    });
  }

  /** An audit sink that counts each decision, then hands it on. */
  counting(next: AuditSink | undefined): AuditSink {
    return {
      send: (draft: AuditDraft) => {
        const tool = String(draft.data?.operation ?? '').replace(/^tools\/call /, '');
        this.toolCalls.inc({ tool, outcome: draft.outcome === 'success' ? 'allowed' : (draft.reason ?? 'denied') });
        next?.send(draft);
      },
    };
  }
}

/**
 * `/healthz` (the process is alive), `/readyz` (the IdP answers its
 * metadata within 2 s: without it no token can be exchanged), `/metrics`.
 * None of them needs or reveals a token; keep `/metrics` on the monitoring
 * network (docs/deployment.md).
 */
export function operationsRoutes(app: FastifyInstance, metrics: GatewayMetrics, issuer: string): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    let idp = false;
    try {
      const response = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/oauth-authorization-server`, {
        signal: AbortSignal.timeout(2000),
      });
      await response.body?.cancel();
      idp = response.ok;
    } catch {
      idp = false;
    }
    return reply
      .code(idp ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: idp ? 'ready' : 'not_ready', idp });
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}
