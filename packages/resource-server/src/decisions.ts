import type { ServerResponse } from 'node:http';
import type { AuditDraft } from '@palisade/audit';
import type { VerifiedToken } from './verify.js';

/** Where a tool's decisions go: an AuditSender, or anything with its `send`. */
export interface AuditSink {
  send(draft: AuditDraft): void;
}

/**
 * A tool's decision on one call as an audit event: who (the token's user and
 * client, the chain of actors, its `jti`), what was called and what the
 * token allowed, and, for a refusal, the error. Never the token itself.
 */
export function decisionEvent(input: {
  readonly audience: string;
  readonly operation: string;
  readonly token: VerifiedToken | undefined;
  readonly status: number;
  readonly error: string | undefined;
  readonly traceId: string | undefined;
}): AuditDraft {
  const { token } = input;
  const allowed = input.status < 400;
  return {
    event: allowed ? 'tool.call_allowed' : 'tool.call_denied',
    outcome: allowed ? 'success' : 'failure',
    ...(allowed ? {} : { reason: input.error ?? `http_${input.status}` }),
    ...(input.traceId ? { trace_id: input.traceId } : {}),
    ...(token
      ? {
          sub: token.sub,
          client: token.clientId,
          jti: token.jti,
          ...(token.claims.act ? { act: token.claims.act } : {}),
          ...(token.authorizationDetails.length > 0 ? { authorization_details: token.authorizationDetails } : {}),
        }
      : {}),
    data: {
      tool: input.audience,
      operation: input.operation,
      status: input.status,
      ...(input.error ? { error: input.error } : {}),
    },
  };
}

/** The error code each refused response carried (keyed by the raw response, whatever the framework). */
const refusals = new WeakMap<ServerResponse, string>();

export function noteRefusal(response: ServerResponse, body: unknown): void {
  const code = (body as { error?: unknown } | undefined)?.error;
  refusals.set(response, typeof code === 'string' ? code : 'invalid_token');
}

export function refusalOf(response: ServerResponse): string | undefined {
  return refusals.get(response);
}

/** Sends the decision once the response is finished (node:http and Express adapters). */
export function auditWhenFinished(
  response: ServerResponse,
  audit: AuditSink | undefined,
  input: { audience: string; method: string | undefined; url: string; traceId: string | undefined; token: () => VerifiedToken | undefined },
): void {
  if (!audit) return;
  response.once('finish', () => {
    audit.send(
      decisionEvent({
        audience: input.audience,
        operation: `${input.method} ${input.url.split('?')[0]}`,
        token: input.token(),
        status: response.statusCode,
        error: refusalOf(response),
        traceId: input.traceId,
      }),
    );
  });
}
