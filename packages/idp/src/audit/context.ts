import { AsyncLocalStorage } from 'node:async_hooks';
import { newSpanId, newTraceId, parseTraceparent } from '@palisade/audit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

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

export const requestContext = new AsyncLocalStorage<RequestContext>();
/** The same contexts by request, for hooks that run outside the request's async context (onResponse). */
const byRequest = new WeakMap<FastifyRequest, RequestContext>();

export function contextOf(request: FastifyRequest): RequestContext | undefined {
  return byRequest.get(request);
}

/**
 * Every request runs inside a context carrying its trace: the caller's
 * `traceparent` is continued (so the agent, the gateway, the tools and the
 * IdP share one trace id), or a new trace starts; the response names this
 * server's span so the caller can link to it.
 */
export function traceRequests(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const traceId = parseTraceparent(request.headers.traceparent) ?? newTraceId();
    const spanId = newSpanId();
    reply.header('traceparent', `00-${traceId}-${spanId}-01`);
    const context: RequestContext = { traceId, spanId, endpoint: request.url.split('?')[0] ?? '' };
    byRequest.set(request, context);
    // Log lines of this request name its trace, so logs and the audit trail join up (issue 10).
    const log = request.log.child({ trace_id: traceId });
    request.log = log;
    reply.log = log;
    requestContext.run(context, done);
  });
}

export function currentRequest(): RequestContext | undefined {
  return requestContext.getStore();
}
