import { traceHeaders } from './trace.js';

export interface ClientCredentialsOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Seconds before expiry at which a cached token is no longer handed out (default 30). */
  readonly refreshMargin?: number;
  readonly now?: () => number;
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

interface Cached {
  readonly token: string;
  readonly exp: number;
}

/**
 * A service's own calls to the IdP's token endpoint (client_secret_basic):
 * the endpoint is discovered once from RFC 8414 metadata whose issuer must
 * match, and client-credentials tokens are cached per resource and scope
 * until shortly before they expire. The current trace travels along.
 */
export class ServiceClient {
  readonly options: Required<Omit<ClientCredentialsOptions, 'now'>> & { now: () => number };
  readonly #cache = new Map<string, Cached>();
  #metadata: Promise<{ token_endpoint: string; introspection_endpoint?: string }> | undefined;

  constructor(options: ClientCredentialsOptions) {
    this.options = { refreshMargin: 30, now: () => Math.floor(Date.now() / 1000), ...options };
  }

  /** RFC 8414 metadata, read once; its issuer must be the one configured (§3.3). */
  async #discover(): Promise<{ token_endpoint: string; introspection_endpoint?: string }> {
    const response = await fetch(new URL('.well-known/oauth-authorization-server', `${this.options.issuer.replace(/\/$/, '')}/`));
    const metadata = (await response.json()) as { issuer?: string; token_endpoint?: string; introspection_endpoint?: string };
    if (metadata.issuer !== this.options.issuer || !metadata.token_endpoint) {
      throw new Error('authorization server metadata does not match the issuer');
    }
    return {
      token_endpoint: metadata.token_endpoint,
      ...(metadata.introspection_endpoint ? { introspection_endpoint: metadata.introspection_endpoint } : {}),
    };
  }

  async #endpoints() {
    this.#metadata ??= this.#discover().catch((error: unknown) => {
      this.#metadata = undefined;
      throw error;
    });
    return this.#metadata;
  }

  async tokenEndpoint(): Promise<string> {
    return (await this.#endpoints()).token_endpoint;
  }

  #basic(): string {
    const { clientId, clientSecret } = this.options;
    return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  }

  /** RFC 7662: what the IdP says about a token now (revoked tokens are `active: false`). */
  async introspect(token: string): Promise<{ active: boolean; aud?: string | string[] }> {
    const endpoint = (await this.#endpoints()).introspection_endpoint;
    if (!endpoint) throw new Error('the authorization server has no introspection endpoint');
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.#basic(), ...traceHeaders() },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw new TokenEndpointError(response.status, 'introspection_failed');
    return (await response.json()) as { active: boolean; aud?: string | string[] };
  }

  /** One token request; the answer's token and when it stops being handed out. */
  async request(params: Record<string, string>): Promise<Cached> {
    const response = await fetch(await this.tokenEndpoint(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: this.#basic(), ...traceHeaders() },
      body: new URLSearchParams(params),
    });
    const body = (await response.json()) as { access_token?: string; expires_in?: number; error?: string };
    if (!response.ok || !body.access_token) throw new TokenEndpointError(response.status, body.error ?? 'invalid_response');
    return { token: body.access_token, exp: this.options.now() + (body.expires_in ?? 0) };
  }

  fresh(entry: Cached | undefined): entry is Cached {
    return entry !== undefined && entry.exp - this.options.refreshMargin > this.options.now();
  }

  /** This service's own token (client credentials), for `resource` and `scope` when given. */
  async ownToken(options: { resource?: string; scope?: string; refresh?: boolean } = {}): Promise<string> {
    const key = `${options.resource ?? ''}\u0000${options.scope ?? ''}`;
    const cached = this.#cache.get(key);
    if (!options.refresh && this.fresh(cached)) return cached.token;
    const issued = await this.request({
      grant_type: 'client_credentials',
      ...(options.resource ? { resource: options.resource } : {}),
      ...(options.scope ? { scope: options.scope } : {}),
    });
    this.#cache.set(key, issued);
    return issued.token;
  }
}
