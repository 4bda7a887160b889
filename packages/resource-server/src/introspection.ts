import { createHash } from 'node:crypto';
import { InvalidToken, OAuthError } from '@palisade/core';
import { ServiceClient } from './client-credentials.js';

export interface IntrospectionOptions {
  /** This resource server's client at the IdP (it may introspect tokens meant for it). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Seconds an answer is reused (default 30): the most a revocation can go unnoticed. */
  readonly cacheSeconds?: number;
  /** Answers kept at most (default 10,000; the oldest go first). */
  readonly cacheSize?: number;
}

interface Answer {
  readonly active: boolean;
  readonly until: number;
}

/**
 * Revocation-sensitive verification (RFC 7662): after the local JWT checks,
 * the IdP is asked whether the token is still active, so a revoked token
 * (logout, consent withdrawal, a reused refresh token's family) stops working
 * within `cacheSeconds` instead of at its expiry. Answers are cached by the
 * token's SHA-256, never longer than the token lives. If the IdP cannot be
 * asked, the call fails closed with 503.
 */
export class Introspector {
  readonly #client: ServiceClient;
  readonly #ttl: number;
  readonly #size: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Answer>();

  constructor(issuer: string, options: IntrospectionOptions, now: () => number) {
    this.#client = new ServiceClient({ issuer, clientId: options.clientId, clientSecret: options.clientSecret, now });
    this.#ttl = options.cacheSeconds ?? 30;
    this.#size = options.cacheSize ?? 10_000;
    this.#now = now;
  }

  async assertActive(token: string, exp: number): Promise<void> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.#now();
    let answer = this.#cache.get(key);
    if (!answer || answer.until <= now) {
      let active: boolean;
      try {
        active = (await this.#client.introspect(token)).active === true;
      } catch {
        throw new OAuthError('temporarily_unavailable', 503, 'the token could not be checked with the identity provider');
      }
      answer = { active, until: Math.min(now + this.#ttl, exp) };
      this.#cache.delete(key);
      this.#cache.set(key, answer);
      if (this.#cache.size > this.#size) this.#cache.delete(this.#cache.keys().next().value as string);
    }
    if (!answer.active) throw InvalidToken('the access token is invalid', 'inactive at introspection');
  }
}
