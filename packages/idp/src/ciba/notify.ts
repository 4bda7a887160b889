import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { AuditTrail } from '../audit/trail.js';

/** What a notification carries (CIBA §10.2 ping, §10.3 push, §12 push error). Never logged. */
export type NotificationBody = Readonly<Record<string, unknown>> & { readonly auth_req_id: string };

export type NotificationKind = 'ping' | 'push' | 'push_error';

export interface NotificationTarget {
  readonly clientId: string;
  /** The request's public id, for the log; never the auth_req_id. */
  readonly rid: string;
  /** The user the request is for, and the trace of the agent's request: what the audit events carry. */
  readonly sub: string;
  readonly traceId: string | undefined;
  readonly endpoint: string;
  readonly token: string;
}

export interface DeliveryPolicy {
  /** Seconds one attempt may take. */
  readonly timeout: number;
  readonly attempts: number;
  /** Milliseconds before the first retry; doubles each time. */
  readonly backoffMs: number;
}

/** How a delivery ended: acknowledged (2xx), refused (3xx/4xx: final), abandoned after the last retry, or cut short by shutdown. */
export type DeliveryOutcome = 'delivered' | 'refused' | 'abandoned' | 'aborted';

/**
 * Delivers ping and push notifications to a client's registered endpoint
 * (CIBA §10.2, §10.3): a JSON POST with `Authorization: Bearer
 * <client_notification_token>`, redirects never followed (a 3xx is a
 * failure: the registered endpoint is the only place a token may go).
 * Network errors, timeouts and 5xx are retried with exponential backoff; a
 * 4xx is the client's final answer and is not. Every attempt is logged with
 * its outcome, without the body or the bearer token. Shutdown cuts retries
 * short; the store's outbox lets another node finish the job (decide.ts).
 */
export class Notifier {
  readonly #log: FastifyBaseLogger;
  readonly #audit: AuditTrail;
  readonly #policy: DeliveryPolicy;
  /** Aborted when the node shuts down: in-flight attempts and backoff waits end at once. */
  readonly #shutdown: AbortSignal;

  constructor(log: FastifyBaseLogger, audit: AuditTrail, policy: DeliveryPolicy, shutdown: AbortSignal) {
    this.#log = log;
    this.#audit = audit;
    this.#policy = policy;
    this.#shutdown = shutdown;
  }

  async deliver(target: NotificationTarget, kind: NotificationKind, body: NotificationBody): Promise<DeliveryOutcome> {
    const { attempts, backoffMs, timeout } = this.#policy;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.#shutdown.aborted) return 'aborted';
      const entry = { event: 'ciba.notification', kind, client: target.clientId, request: target.rid, attempt };
      try {
        const response = await fetch(target.endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(timeout * 1000), this.#shutdown]),
        });
        await response.body?.cancel();
        const delivered = response.status >= 200 && response.status < 300;
        this.#log.info({ ...entry, status: response.status, outcome: delivered ? 'delivered' : 'refused' }, 'CIBA notification');
        this.#attempted(target, kind, attempt, delivered, `http_${response.status}`, response.status);
        if (delivered) return 'delivered';
        if (response.status < 500) return 'refused';
      } catch (error) {
        if (this.#shutdown.aborted) return 'aborted';
        const reason = error instanceof Error ? (error.name === 'TimeoutError' ? 'timeout' : error.name) : 'unknown';
        this.#log.warn({ ...entry, outcome: 'network_error', reason }, 'CIBA notification failed');
        this.#attempted(target, kind, attempt, false, reason);
      }
      if (attempt === attempts) break;
      try {
        await sleep(backoffMs * 2 ** (attempt - 1), undefined, { signal: this.#shutdown, ref: false });
      } catch {
        return 'aborted';
      }
    }
    this.#log.warn(
      { event: 'ciba.notification_abandoned', kind, client: target.clientId, request: target.rid },
      'CIBA notification not delivered',
    );
    this.#audit.record({
      event: 'ciba.notification_failed',
      outcome: 'failure',
      reason: 'retries_exhausted',
      sub: target.sub,
      client: target.clientId,
      ...(target.traceId ? { trace_id: target.traceId } : {}),
      data: { request: target.rid, kind },
    });
    return 'abandoned';
  }

  /** Every attempt is an audit event (issue 5: "every attempt audited"). */
  #attempted(
    target: NotificationTarget,
    kind: NotificationKind,
    attempt: number,
    delivered: boolean,
    reason: string,
    status?: number,
  ): void {
    this.#audit.record({
      event: 'ciba.notification_sent',
      outcome: delivered ? 'success' : 'failure',
      ...(delivered ? {} : { reason }),
      sub: target.sub,
      client: target.clientId,
      ...(target.traceId ? { trace_id: target.traceId } : {}),
      data: { request: target.rid, kind, attempt, ...(status === undefined ? {} : { status }) },
    });
  }
}
