import { newSpanId, newTraceId, parseTraceparent } from '@palisade/audit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
/** What every audit event recorded while serving one request shares. */
export interface RequestContext {
  /** W3C Trace Context trace-id: the caller's, or a new one. */
  readonly traceId: string;
  /** This server's span, sent back in `traceparent`. */
  readonly spanId: string;
  /** The path served (never the query string). */
  readonly endpoint: string;
  /** Filled in as the request is understood, for the events that follow. */
  clientId?: string;
  grantType?: string;
}

/** The context of each request, set by `traceRequests`. */
const byRequest = new WeakMap<FastifyRequest, RequestContext>();

export function contextOf(request: FastifyRequest): RequestContext | undefined {
  return byRequest.get(request);
}

/**
 * The IdP's context for serving `request`: what routes hand to grants,
 * interaction steps and the token issuer, so the events they record carry the
 * request's trace. The context travels explicitly, not in an
 * AsyncLocalStorage: on Node 20 one, once used, runs a hook on every promise
 * of the process, about a seventh of the CPU of a client_credentials token
 * (docs/performance.md).
 */
export function serving(idp: IdpContext, request: FastifyRequest): IdpContext {
  const context = byRequest.get(request);
  return context ? { ...idp, request: context } : idp;
}

/**
 * Every request gets a context carrying its trace: the caller's
 * `traceparent` is continued (so the agent, the gateway, the tools and the
 * IdP share one trace id), or a new trace starts; the response names this
 * server's span so the caller can link to it.
 */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const traceId = parseTraceparent(request.headers.traceparent) ?? newTraceId();
    const spanId = newSpanId();
    reply.header('traceparent', `00-${traceId}-${spanId}-01`);
    byRequest.set(request, { traceId, spanId, endpoint: request.url.split('?')[0] ?? '' });
    // Log lines of this request name its trace, so logs and the audit trail join up (issue 10).
    const log = request.log.child({ trace_id: traceId });
    request.log = log;
    reply.log = log;
    done();
  });
}
