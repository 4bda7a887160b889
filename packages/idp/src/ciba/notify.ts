import type { FastifyBaseLogger } from 'fastify';

/** What a notification carries (CIBA §10.2 ping, §10.3 push, §12 push error). Never logged. */
export type NotificationBody = Readonly<Record<string, unknown>> & { readonly auth_req_id: string };

export type NotificationKind = 'ping' | 'push' | 'push_error';

export interface NotificationTarget {
  readonly clientId: string;
  /** The request's public id, for the log; never the auth_req_id. */
  readonly rid: string;
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Delivers ping and push notifications to a client's registered endpoint
 * (CIBA §10.2, §10.3): a JSON POST with `Authorization: Bearer
 * <client_notification_token>`, redirects never followed (a 3xx is a
 * failure: the registered endpoint is the only place a token may go).
 * Network errors, timeouts and 5xx are retried with exponential backoff; a
 * 4xx is the client's final answer and is not. Every attempt is logged with
 * its outcome, without the body or the bearer token.
 */
export class Notifier {
  readonly #log: FastifyBaseLogger;
  readonly #policy: DeliveryPolicy;

  constructor(log: FastifyBaseLogger, policy: DeliveryPolicy) {
    this.#log = log;
    this.#policy = policy;
  }

  /** Resolves true once the client acknowledged with a 2xx; false after the last failed attempt. */
  async deliver(target: NotificationTarget, kind: NotificationKind, body: NotificationBody): Promise<boolean> {
    const { attempts, backoffMs, timeout } = this.#policy;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const entry = { event: 'ciba.notification', kind, client: target.clientId, request: target.rid, attempt };
      let retry: boolean;
      try {
        const response = await fetch(target.endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          redirect: 'manual',
          signal: AbortSignal.timeout(timeout * 1000),
        });
        await response.body?.cancel();
        const delivered = response.status >= 200 && response.status < 300;
        this.#log.info({ ...entry, status: response.status, outcome: delivered ? 'delivered' : 'refused' }, 'CIBA notification');
        if (delivered) return true;
        retry = response.status >= 500;
      } catch (error) {
        const reason = error instanceof Error ? (error.name === 'TimeoutError' ? 'timeout' : error.name) : 'unknown';
        this.#log.warn({ ...entry, outcome: 'network_error', reason }, 'CIBA notification failed');
        retry = true;
      }
      if (!retry || attempt === attempts) break;
      await sleep(backoffMs * 2 ** (attempt - 1));
    }
    this.#log.warn(
      { event: 'ciba.notification_abandoned', kind, client: target.clientId, request: target.rid },
      'CIBA notification not delivered',
    );
    return false;
  }
}
