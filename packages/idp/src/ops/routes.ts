import type { FastifyInstance } from 'fastify';
import type { IdpContext } from '../context.js';
import type { IdpMetrics } from './metrics.js';

/** The grant types we label metrics with; anything else is "other", so label cardinality stays bounded. */
const KNOWN_GRANTS = new Set([
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]);

/**
 * Operations endpoints (issue 10): `/healthz` says the process is alive,
 * `/readyz` that the store answers and signing keys are loaded (a load
 * balancer takes the node out otherwise), `/metrics` serves Prometheus
 * metrics. None of them reveals a token, key or user; the nginx sample in
 * docs/deployment.md keeps `/metrics` for the monitoring network.
 */
export function operationsRoutes(app: FastifyInstance, ctx: IdpContext, metrics: IdpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    if (route === '/token' && request.method === 'POST') {
      const body = request.body instanceof URLSearchParams ? request.body : undefined;
      const grant = body?.get('grant_type') ?? '';
      const outcome = reply.statusCode === 200 ? 'issued' : `error_${reply.statusCode}`;
      metrics.tokenRequests.inc({ grant_type: KNOWN_GRANTS.has(grant) ? grant : 'other', outcome });
    }
  });
  app.get('/healthz', async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const stop = metrics.storeLatency.startTimer();
    let storeOk = false;
    try {
      await ctx.store.find('signing_key', 'readiness-probe');
      storeOk = true;
    } catch {
      storeOk = false;
    }
    stop();
    const keysOk = ctx.keystore.jwks.keys.length > 0;
    const ready = storeOk && keysOk;
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', store: storeOk, keys: keysOk });
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}
