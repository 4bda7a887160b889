import type { AuthorizationDetail } from '@palisade/core';
import { type ClientCredentialsOptions, ServiceClient, TokenEndpointError } from './client-credentials.js';
import { traceHeaders } from './trace.js';
import type { VerifiedToken } from './verify.js';

export interface ExchangerOptions extends ClientCredentialsOptions {
  /** Reuse an exchanged token for the same subject, audience and details until shortly before it expires (default true). */
  readonly cache?: boolean;
}

const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** A token-exchange failure, with the OAuth error code and never the request. */
export class ExchangeError extends TokenEndpointError {
  override readonly name = 'ExchangeError';
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
  readonly #client: ServiceClient;
  readonly #cache = new Map<string, { readonly token: string; readonly exp: number; readonly type: string }>();

  readonly #caching: boolean;

  constructor(options: ExchangerOptions) {
    const { cache, ...client } = options;
    this.#caching = cache !== false;
    this.#client = new ServiceClient(client);
  }

  /** A token for `audience`, on behalf of the subject of `subject`, narrowed to `authorizationDetails` (of `requestedTokenType`, an access token by default). */
  async exchange(
    subject: VerifiedToken,
    audience: string,
    options: { authorizationDetails?: readonly AuthorizationDetail[]; requestedTokenType?: string } = {},
  ): Promise<string> {
    return (await this.issue(subject, audience, options)).token;
  }

  /** exchange, with the token's type: `DPoP` when this service has a DPoP key (present it with `presentation`). */
  async issue(
    subject: VerifiedToken,
    audience: string,
    options: { authorizationDetails?: readonly AuthorizationDetail[]; requestedTokenType?: string } = {},
  ): Promise<{ readonly token: string; readonly type: string }> {
    const details = options.authorizationDetails ? JSON.stringify(options.authorizationDetails) : '';
    const type = options.requestedTokenType ?? '';
    const key = `${subject.jti}\u0000${audience}\u0000${details}\u0000${type}`;
    const cached = this.#cache.get(key);
    if (this.#caching && this.#client.fresh(cached)) return cached;
    // The exchange continues the subject's request's trace (W3C Trace Context), so the IdP's event joins it.
    const issued = await this.#exchange(subject.traceId, {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject.token,
      subject_token_type: ACCESS_TOKEN,
      actor_token: await this.#client.ownToken({ traceId: subject.traceId }),
      actor_token_type: ACCESS_TOKEN,
      audience,
      ...(details ? { authorization_details: details } : {}),
      // RFC 8693 §2.1: e.g. urn:ietf:params:oauth:token-type:saml2 for a legacy service.
      ...(type ? { requested_token_type: type } : {}),
    });
    if (!this.#caching) return issued;
    for (const [k, v] of this.#cache) if (!this.#client.fresh(v)) this.#cache.delete(k);
    this.#cache.set(key, issued);
    return issued;
  }

  /** The Authorization (and DPoP) headers for calling `url` with a token from `issue` (RFC 6750 §2.1, RFC 9449 §7). */
  presentation(issued: { readonly token: string; readonly type: string }, method: string, url: string): Promise<Record<string, string>> {
    return this.#client.presentation(issued.token, issued.type, method, url);
  }

  /** fetch() to another tool with an exchanged token for it attached (never the caller's own). */
  async fetch(
    subject: VerifiedToken,
    audience: string,
    url: string,
    init: RequestInit & { authorizationDetails?: readonly AuthorizationDetail[] } = {},
  ): Promise<Response> {
    const { authorizationDetails, ...rest } = init;
    const issued = await this.issue(subject, audience, authorizationDetails ? { authorizationDetails } : {});
    const headers = new Headers(rest.headers);
    for (const [name, value] of Object.entries(await this.presentation(issued, rest.method ?? 'GET', url))) headers.set(name, value);
    // The next tool continues this request's trace (W3C Trace Context).
    for (const [name, value] of Object.entries(traceHeaders(subject.traceId))) headers.set(name, value);
    return fetch(url, { ...rest, headers });
  }

  async #exchange(traceId: string | undefined, params: Record<string, string>) {
    try {
      return await this.#client.request(params, { traceId });
    } catch (error) {
      if (error instanceof TokenEndpointError) throw new ExchangeError(error.status, error.error);
      throw error;
    }
  }
}
