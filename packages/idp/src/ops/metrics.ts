import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one IdP instance (its own registry, so several
 * instances in one process never collide): HTTP requests and latency by route
 * and status, token requests by grant type and outcome, store latency.
 */
export class IdpMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'palisade_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'palisade_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly tokenRequests = new Counter({
    name: 'palisade_token_requests_total',
    help: 'Token endpoint requests by grant type and outcome (issued, or the OAuth error code)',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly storeLatency = new Histogram({
    name: 'palisade_store_readiness_seconds',
    help: 'Latency of the readiness probe of the store',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });

  /** Every audit event by name and outcome: exchanges, CIBA decisions and notifications, refusals, sign-ins. */
  readonly events = new Counter({
    name: 'palisade_audit_events_total',
    help: 'Security events recorded in the audit trail, by event and outcome',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly auditBacklog: Gauge;

  constructor(backlog: () => number = () => 0) {
    collectDefaultMetrics({ register: this.registry, prefix: 'palisade_' });
    this.auditBacklog = new Gauge({
      name: 'palisade_audit_backlog',
      help: 'Audit events recorded but not yet appended to the chain',
      registers: [this.registry],
      collect() {
        this.set(backlog());
      },
    });
  }
}
