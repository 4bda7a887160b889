import { AsyncLocalStorage } from 'node:async_hooks';
import { newTraceId, parseTraceparent, traceparent } from '@palisade/audit';

/** The trace a request belongs to, available to everything it calls (exchange, fetch, audit). */
const traces = new AsyncLocalStorage<{ readonly traceId: string }>();

/** Runs `work` in the caller's trace (W3C `traceparent`), or in a new one. */
export function inTrace<T>(header: string | string[] | undefined, work: () => T): T {
  return traces.run({ traceId: parseTraceparent(header) ?? newTraceId() }, work);
}

export function currentTraceId(): string | undefined {
  return traces.getStore()?.traceId;
}

/** Headers that carry the current trace to the next hop (the IdP, another tool). */
export function traceHeaders(): Record<string, string> {
  const traceId = currentTraceId();
  return traceId ? { traceparent: traceparent(traceId) } : {};
}

/** Runs `work` outside any trace: background work (audit delivery) is nobody's call. */
export function outsideTrace<T>(work: () => T): T {
  return traces.exit(work);
}
