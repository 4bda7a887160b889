import { OAuthError } from '@palisade/core';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { contextOf } from '../audit/context.js';
import type { AuditTrail } from '../audit/trail.js';
import type { ParsedConfig } from '../config/schema.js';
import type { Client } from '../realm.js';

interface Bucket {
  readonly tokens: number;
  readonly at: number;
  readonly throttled: boolean;
}

/** Keys tracked per limiter at most; past it, full buckets (idle keys) are dropped first. */
const MAX_KEYS = 50_000;

/**
 * A token bucket per key (client id or IP address): `limit` requests per
 * `window` seconds, refilled continuously, so a burst up to `limit` passes
 * and a steady flood is held to the rate. In memory, per node: throttling is
 * about load on this process, where a shared counter would cost a write per
 * request (lockouts, which must be exact, do use the store).
 */
export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;

  constructor(
    readonly limit: number,
    readonly window: number,
    readonly now: () => number = () => performance.now(),
  ) {
    this.#perMs = limit / (window * 1000);
  }

  /** Takes one request's token; when none is left, the seconds until one will be. */
  take(key: string): { readonly allowed: true } | { readonly allowed: false; readonly retryAfter: number; readonly first: boolean } {
    const now = this.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.limit, at: now, throttled: false };
    const tokens = Math.min(this.limit, bucket.tokens + (now - bucket.at) * this.#perMs);
    if (tokens >= 1) {
      this.#store(key, { tokens: tokens - 1, at: now, throttled: false });
      return { allowed: true };
    }
    // `first`: this key has just run dry (its last request was allowed) — the moment worth recording once.
    const first = !bucket.throttled;
    this.#store(key, { tokens, at: now, throttled: true });
    return { allowed: false, retryAfter: Math.max(1, Math.ceil((1 - tokens) / this.#perMs / 1000)), first };
  }

  #store(key: string, bucket: Bucket): void {
    this.#buckets.delete(key);
    if (this.#buckets.size >= MAX_KEYS) {
      // The oldest entries first: Map keeps insertion order and every write re-inserts.
      for (const old of this.#buckets.keys()) {
        this.#buckets.delete(old);
        if (this.#buckets.size < MAX_KEYS * 0.9) break;
      }
    }
    this.#buckets.set(key, bucket);
  }
}

/** 429 with Retry-After (RFC 6585 §4); `temporarily_unavailable` is the OAuth code for an overloaded server (RFC 6749 §4.1.2.1). */
export class Throttled extends OAuthError {
  constructor(readonly retryAfter: number) {
    super('temporarily_unavailable', 429, `too many requests; retry in ${retryAfter} s`);
  }
}

type Limited = 'token' | 'par' | 'backchannel_authentication';

/**
 * The limits of the token, PAR and CIBA endpoints: per IP before the body is
 * read, per client once it has authenticated (counting unauthenticated
 * requests against a client would let anyone who knows its id lock it out).
 * The first refusal of a key in a burst is audited; the rest are not, so a
 * flood cannot flood the trail.
 */
export class RateLimits {
  readonly #byIp = new Map<string, RateLimiter>();
  readonly #byClient = new Map<string, RateLimiter>();

  readonly #audit: AuditTrail;
  readonly #log: FastifyBaseLogger;

  constructor(config: ParsedConfig['rate_limits'], audit: AuditTrail, log: FastifyBaseLogger, paths: Readonly<Record<Limited, string>>) {
    this.#audit = audit;
    this.#log = log;
    if (!config.enabled) return;
    for (const [name, path] of Object.entries(paths) as [Limited, string][]) {
      const { per_ip: perIp, per_client: perClient } = config[name];
      if (perIp > 0) this.#byIp.set(path, new RateLimiter(perIp, config.window));
      if (perClient > 0) this.#byClient.set(path, new RateLimiter(perClient, config.window));
    }
  }

  /** Registers the per-IP check, which runs before the body is parsed. */
  register(app: FastifyInstance): void {
    if (this.#byIp.size === 0) return;
    app.addHook('onRequest', async (request) => {
      const limiter = this.#byIp.get(request.url.split('?')[0] ?? '');
      if (limiter) this.#take(limiter, request.ip, request, 'ip');
    });
  }

  /** The per-client check, after the client authenticated. */
  client(request: FastifyRequest, client: Client): void {
    const limiter = this.#byClient.get(request.url.split('?')[0] ?? '');
    if (limiter) this.#take(limiter, client.id, request, 'client', client.id);
  }

  #take(limiter: RateLimiter, key: string, request: FastifyRequest, scope: 'ip' | 'client', clientId?: string): void {
    const taken = limiter.take(key);
    if (taken.allowed) return;
    if (taken.first) {
      this.#log.warn({ event: 'request.throttled', scope, client: clientId, endpoint: request.url.split('?')[0] }, 'rate limit reached');
      this.#audit.record(
        {
          event: 'request.throttled',
          outcome: 'failure',
          reason: `rate_limit_${scope}`,
          ...(clientId ? { client: clientId } : {}),
          data: { endpoint: request.url.split('?')[0] ?? '', scope, limit: limiter.limit, window: limiter.window },
        },
        contextOf(request),
      );
    }
    throw new Throttled(taken.retryAfter);
  }
}
