import type { AuthorizationDetail } from '@palisade/core';
import type { VerifiedToken } from './verify.js';

export interface ExchangerOptions {
  readonly issuer: string;
  /** This service's client credentials at the IdP. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Seconds before expiry at which a cached token is no longer handed out (default 30). */
  readonly refreshMargin?: number;
  readonly now?: () => number;
}

interface Cached {
  readonly token: string;
  readonly exp: number;
}

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** A token-endpoint failure, with the OAuth error code and never the request. */
export class ExchangeError extends Error {
  override readonly name = 'ExchangeError';
  constructor(
    readonly status: number,
    readonly error: string,
  ) {
    super(`token exchange failed: ${status} ${error}`);
  }
}

/**
 * On-behalf-of calls (RFC 8693): turns the token this service received into
 * a token for the next service, narrowed to the details it needs, with this
 * service as the current actor (its own client_credentials token is the
 * actor_token, ADR 0006). Results are cached per subject `jti`, audience and
 * details until shortly before they expire. The caller's token is never
 * passed through (SECURITY M9).
 *
 * @example
 * const exchanger = new TokenExchanger({ issuer, clientId: 'report-service', clientSecret });
 * const response = await exchanger.fetch(token, 'http://127.0.0.1:9410', 'http://127.0.0.1:9410/finance/Q4-report.pdf', {
 *   authorizationDetails: [{ type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' }],
 * });
 */
export class TokenExchanger {
  readonly #options: Required<Omit<ExchangerOptions, 'now'>> & { now: () => number };
  readonly #cache = new Map<string, Cached>();
  #actor: Cached | undefined;
  #tokenEndpoint: string | undefined;

  constructor(options: ExchangerOptions) {
    this.#options = { refreshMargin: 30, now: () => Math.floor(Date.now() / 1000), ...options };
  }

  async #endpoint(): Promise<string> {
    if (this.#tokenEndpoint) return this.#tokenEndpoint;
    const response = await fetch(new URL('.well-known/oauth-authorization-server', `${this.#options.issuer.replace(/\/$/, '')}/`));
    const metadata = (await response.json()) as { issuer?: string; token_endpoint?: string };
    if (metadata.issuer !== this.#options.issuer || !metadata.token_endpoint)
      throw new Error('authorization server metadata does not match the issuer');
    this.#tokenEndpoint = metadata.token_endpoint;
    return this.#tokenEndpoint;
  }

  async #tokenRequest(params: Record<string, string>): Promise<Cached> {
    const basic = Buffer.from(`${encodeURIComponent(this.#options.clientId)}:${encodeURIComponent(this.#options.clientSecret)}`).toString(
      'base64',
    );
    const response = await fetch(await this.#endpoint(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      body: new URLSearchParams(params),
    });
    const body = (await response.json()) as { access_token?: string; expires_in?: number; error?: string };
    if (!response.ok || !body.access_token) throw new ExchangeError(response.status, body.error ?? 'invalid_response');
    return { token: body.access_token, exp: this.#options.now() + (body.expires_in ?? 0) };
  }

  #fresh(entry: Cached | undefined): entry is Cached {
    return entry !== undefined && entry.exp - this.#options.refreshMargin > this.#options.now();
  }

  async #actorToken(): Promise<string> {
    if (!this.#fresh(this.#actor)) this.#actor = await this.#tokenRequest({ grant_type: 'client_credentials' });
    return this.#actor.token;
  }

  /** A token for `audience`, on behalf of the subject of `subject`, narrowed to `authorizationDetails`. */
  async exchange(
    subject: VerifiedToken,
    audience: string,
    options: { authorizationDetails?: readonly AuthorizationDetail[] } = {},
  ): Promise<string> {
    const details = options.authorizationDetails ? JSON.stringify(options.authorizationDetails) : '';
    const key = `${subject.jti}\u0000${audience}\u0000${details}`;
    const cached = this.#cache.get(key);
    if (this.#fresh(cached)) return cached.token;
    const issued = await this.#tokenRequest({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject.token,
      subject_token_type: ACCESS_TOKEN,
      actor_token: await this.#actorToken(),
      actor_token_type: ACCESS_TOKEN,
      audience,
      ...(details ? { authorization_details: details } : {}),
    });
    for (const [k, v] of this.#cache) if (!this.#fresh(v)) this.#cache.delete(k);
    this.#cache.set(key, issued);
    return issued.token;
  }

  /** fetch() to another tool with an exchanged token for it attached (never the caller's own). */
  async fetch(
    subject: VerifiedToken,
    audience: string,
    url: string,
    init: RequestInit & { authorizationDetails?: readonly AuthorizationDetail[] } = {},
  ): Promise<Response> {
    const { authorizationDetails, ...rest } = init;
    const token = await this.exchange(subject, audience, authorizationDetails ? { authorizationDetails } : {});
    const headers = new Headers(rest.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(url, { ...rest, headers });
  }
}
