import type { DpopKey } from './dpop-key.js';
import { traceHeaders } from './trace.js';

export interface ClientCredentialsOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Seconds before expiry at which a cached token is no longer handed out (default 30). */
  readonly refreshMargin?: number;
  readonly now?: () => number;
  /** Sender-constrain this service's tokens (RFC 9449): every token request carries a proof by this key (or the key to come). */
  readonly dpop?: DpopKey | Promise<DpopKey>;
}

/** A token-endpoint failure, with the OAuth error code and never the request. */
export class TokenEndpointError extends Error {
  override readonly name: string = 'TokenEndpointError';
  constructor(
    readonly status: number,
    readonly error: string,
  ) {
    super(`token request failed: ${status} ${error}`);
  }
}

/** The parts of RFC 8414 metadata services use. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly introspection_endpoint?: string;
  readonly backchannel_authentication_endpoint?: string;
  readonly [name: string]: unknown;
}

/** A successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1). */
export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in?: number;
  readonly issued_token_type?: string;
  readonly [name: string]: unknown;
}

interface Cached {
  readonly token: string;
  readonly exp: number;
  /** `DPoP` for a token bound to this service's key (RFC 9449 §5), else `Bearer`. */
  readonly type: string;
}

/**
 * A service's own calls to the IdP's token endpoint (client_secret_basic):
 * the endpoint is discovered once from RFC 8414 metadata whose issuer must
 * match, and client-credentials tokens are cached per resource and scope
 * until shortly before they expire. The current trace travels along.
 */
export class ServiceClient {
  readonly options: Required<Omit<ClientCredentialsOptions, 'now' | 'dpop'>> & { now: () => number; dpop?: DpopKey | Promise<DpopKey> };
  readonly #cache = new Map<string, Cached>();
  #metadata: Promise<AuthorizationServerMetadata> | undefined;

  constructor(options: ClientCredentialsOptions) {
    this.options = { refreshMargin: 30, now: () => Math.floor(Date.now() / 1000), ...options };
  }

  /** RFC 8414 metadata, read once; its issuer must be the one configured (§3.3). */
  async #discover(): Promise<AuthorizationServerMetadata> {
    const response = await fetch(new URL('.well-known/oauth-authorization-server', `${this.options.issuer.replace(/\/$/, '')}/`));
    const metadata = (await response.json()) as Partial<AuthorizationServerMetadata>;
    if (metadata.issuer !== this.options.issuer || typeof metadata.token_endpoint !== 'string') {
      throw new Error('authorization server metadata does not match the issuer');
    }
    return metadata as AuthorizationServerMetadata;
  }

  /** The IdP's metadata (RFC 8414), discovered once; a failed discovery is retried on the next call. */
  async metadata(): Promise<AuthorizationServerMetadata> {
    this.#metadata ??= this.#discover().catch((error: unknown) => {
      this.#metadata = undefined;
      throw error;
    });
    return this.#metadata;
  }

  async tokenEndpoint(): Promise<string> {
    return (await this.metadata()).token_endpoint;
  }

  #basic(): string {
    const { clientId, clientSecret } = this.options;
    return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  }

  /** A form POST to one of the IdP's endpoints, authenticated as this client (client_secret_basic), in `traceId`'s trace if given. */
  async post(
    endpoint: string,
    params: Record<string, string>,
    init: { signal?: AbortSignal; traceId?: string | undefined } = {},
  ): Promise<Response> {
    const { traceId, ...rest } = init;
    const request = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.#basic(), ...traceHeaders(traceId) },
      body: new URLSearchParams(params).toString(),
      ...rest,
    };
    return this.options.dpop ? (await this.options.dpop).fetch(endpoint, request) : fetch(endpoint, request);
  }

  /**
   * The headers that present `token` to a resource at `url`: `Bearer`, or for
   * a token bound to this service's key `DPoP` with a fresh proof (RFC 9449 §7).
   */
  async presentation(token: string, type: string, method: string, url: string): Promise<Record<string, string>> {
    if (type.toLowerCase() !== 'dpop' || !this.options.dpop) return { authorization: `Bearer ${token}` };
    return { authorization: `DPoP ${token}`, dpop: await (await this.options.dpop).proof(method.toUpperCase(), url, token) };
  }

  /** RFC 7662: what the IdP says about a token now (revoked tokens are `active: false`). */
  async introspect(token: string): Promise<{ active: boolean; aud?: string | string[] }> {
    const endpoint = (await this.metadata()).introspection_endpoint;
    if (!endpoint) throw new Error('the authorization server has no introspection endpoint');
    const response = await this.post(endpoint, { token, token_type_hint: 'access_token' }, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new TokenEndpointError(response.status, 'introspection_failed');
    return (await response.json()) as { active: boolean; aud?: string | string[] };
  }

  /** One token request; the answer's token and when it stops being handed out. */
  async request(params: Record<string, string>, init: { traceId?: string | undefined } = {}): Promise<Cached> {
    const issued = await this.tokenRequest(params, init);
    return { token: issued.access_token, exp: this.options.now() + (issued.expires_in ?? 0), type: issued.token_type };
  }

  /** One token request, with the whole successful answer (RFC 6749 §5.1), else a TokenEndpointError. */
  async tokenRequest(params: Record<string, string>, init: { traceId?: string | undefined } = {}): Promise<TokenResponse> {
    const response = await this.post(await this.tokenEndpoint(), params, init);
    const body = (await response.json()) as Partial<TokenResponse> & { error?: string };
    if (!response.ok || typeof body.access_token !== 'string')
      throw new TokenEndpointError(response.status, body.error ?? 'invalid_response');
    return body as TokenResponse;
  }

  fresh(entry: Cached | undefined): entry is Cached {
    return entry !== undefined && entry.exp - this.options.refreshMargin > this.options.now();
  }

  /**
   * This service's own token (client credentials), for `resource` and `scope`
   * when given; fetched, when it must be, in the trace of the call that needs it.
   */
  async ownToken(options: { resource?: string; scope?: string; refresh?: boolean; traceId?: string | undefined } = {}): Promise<string> {
    const key = `${options.resource ?? ''}\u0000${options.scope ?? ''}`;
    const cached = this.#cache.get(key);
    if (!options.refresh && this.fresh(cached)) return cached.token;
    const issued = await this.request(
      {
        grant_type: 'client_credentials',
        ...(options.resource ? { resource: options.resource } : {}),
        ...(options.scope ? { scope: options.scope } : {}),
      },
      { traceId: options.traceId },
    );
    this.#cache.set(key, issued);
    return issued.token;
  }
}
