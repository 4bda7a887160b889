import { randomHex, timeOrderedId } from '@palisade/core';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The trace-id of a W3C Trace Context `traceparent` (§3.2:
 * `version-traceid-parentid-flags`), or undefined when it is not one:
 * version ff and all-zero ids are invalid, version 00 has nothing after the
 * flags, a later version may append fields.
 */
export function parseTraceparent(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, parentId, , rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId ?? '') || /^0+$/.test(parentId ?? '')) return undefined;
  return traceId;
}

/**
 * 32 hex digits: 12 of the millisecond, then 20 random (80 bits); never all
 * zeros. W3C Trace Context Level 2 §3.2.2.3 asks randomness of the
 * right-most 7 bytes only; the time first makes the audit trail's trace
 * index grow at its end instead of on a random page for every event
 * (ADR 0013). The random digits come from core's pooled CSPRNG draw: a
 * randomBytes call per request showed up at 5 % of the token endpoint's
 * profile.
 */
export function newTraceId(): string {
  return timeOrderedId(10, 'hex');
}

/** 16 hex digits for a span (parent-id), from the same pool; all zeros is invalid (§3.2.2.4), so never that. */
export function newSpanId(): string {
  let id = randomHex(8);
  while (id === '0000000000000000') id = randomHex(8);
  return id;
}

/** A `traceparent` continuing `traceId` from a new span of ours (sampled). */
export function traceparent(traceId: string): string {
  return `00-${traceId}-${newSpanId()}-01`;
}
