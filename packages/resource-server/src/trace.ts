import { newTraceId, parseTraceparent, traceparent } from '@palisade/audit';

/**
 * The trace an incoming request belongs to (W3C Trace Context): the caller's
 * `traceparent` continued, or a new trace. It travels explicitly, on the
 * request's `VerifiedToken` (`traceId`), to the exchanges, fetches and audit
 * events made for that request, not through AsyncLocalStorage: on Node 20 an
 * AsyncLocalStorage, once used, runs a hook on every promise of the process,
 * which cost a verifying tool about a fifth of its CPU (docs/performance.md).
 */
export function requestTrace(header: string | string[] | undefined): string {
  return parseTraceparent(header) ?? newTraceId();
}

/** Headers that carry `traceId` to the next hop (the IdP, another tool), from a new span of ours. */
export function traceHeaders(traceId: string | undefined): Record<string, string> {
  return traceId ? { traceparent: traceparent(traceId) } : {};
}
