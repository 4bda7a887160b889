import type { FastifyInstance } from 'fastify';
import type { IdpContext } from '../context.js';
import { rejectionOf } from '../http/responses.js';
import { contextOf } from './context.js';

/**
 * Every refusal is an audit event (issue 9: each rejection of the
 * adversarial catalogue leaves a trace). One hook sees every answer of 400
 * and above: an OAuth error names its code, a page refusal its status; a
 * failed client authentication gets its own event. A GET for a page that
 * does not exist (favicons, scanners) is not recorded, nor a CIBA poll's
 * authorization_pending or slow_down.
 */
export function auditRejections(app: FastifyInstance, ctx: IdpContext): void {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    if (status < 400) return;
    const error = rejectionOf(request);
    if (status === 404 && (request.method === 'GET' || request.method === 'HEAD') && error?.error === 'not_found') return;
    // CIBA §11: "not decided yet" and "poll slower" are the grant's normal answers to a poll, not refusals;
    // the decision itself (ciba.approved, ciba.denied, ciba.expired) is what the trail records.
    if (error?.error === 'authorization_pending' || error?.error === 'slow_down') return;
    // Throttled requests: the first of a burst is a request.throttled event; recording each would let a flood fill the trail.
    if (status === 429) return;
    const context = contextOf(request);
    const endpoint = context?.endpoint ?? request.url.split('?')[0] ?? '';
    const authenticationFailed = error?.error === 'invalid_client';
    ctx.audit.record({
      event: authenticationFailed ? 'client.authentication_failed' : 'request.rejected',
      outcome: 'failure',
      reason: error?.error ?? `http_${status}`,
      ...(context ? { trace_id: context.traceId } : {}),
      ...(context?.clientId ? { client: context.clientId } : {}),
      data: { endpoint, status, method: request.method, ...(error ? { error: error.error } : {}) },
    });
  });
}
