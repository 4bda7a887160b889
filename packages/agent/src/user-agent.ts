import * as oauth from 'oauth4webapi';
import { exportKeyPair, importKeyPair, newKeyPair, presentingWithDPoP, retryingNonce, type StoredKeyPair } from './dpop.js';
import { MisuseError, translated } from './errors.js';
import { type AuthorizationDetail, type Credentials, clientAuth, Issuer, requestParameters } from './issuer.js';
import { LoopbackRedirect } from './loopback.js';
import { MemoryTokenStore, type StoredTokens, type TokenStore } from './token-store.js';

export interface UserAgentOptions {
  readonly issuer: string;
  readonly clientId: string;
  /** A public client by default (a CLI or desktop agent holds no secret). */
  readonly credentials?: Credentials;
  readonly scope?: string;
  /** The audience of its tokens (RFC 8707), e.g. the MCP gateway. */
  readonly resource?: string;
  /** What the person is asked to allow (RFC 9396). */
  readonly authorizationDetails?: readonly AuthorizationDetail[];
  /** Where tokens live between runs (FileTokenStore: 0600); in memory by default. */
  readonly store?: TokenStore;
  /** Shows the person the sign-in page: opens a browser, or prints the URL (the default, on stderr). */
  readonly openBrowser?: (url: URL) => void | Promise<void>;
  /** Seconds the person has to sign in (default 300). */
  readonly loginTimeout?: number;
  /** Seconds before expiry at which the access token is refreshed (default 30). */
  readonly refreshMargin?: number;
  /**
   * Sender-constrained tokens (RFC 9449): a new key at each sign-in, bound to
   * the code through PAR and kept in the store beside the refresh token it
   * is bound to (a public client's refresh token is useless without it).
   */
  readonly dpop?: boolean;
}

const printUrl = (url: URL) => {
  process.stderr.write(`Open this page to sign in:\n  ${url.href}\n`);
};

/**
 * An agent acting for a person: authorization code + PKCE, always through
 * PAR (RFC 9126) with `authorization_details` and `resource`, the redirect
 * caught on a loopback port (RFC 8252); refresh tokens rotated on every use.
 *
 * @example
 * const agent = new UserAgent({ issuer, clientId: 'palisade-cli', scope: 'tools.access',
 *   resource: 'http://127.0.0.1:9401/mcp', authorizationDetails: [q4Read], store: new FileTokenStore(path) });
 * await agent.login();                  // the person signs in and consents in the browser
 * const token = await agent.accessToken(); // refreshed when needed
 */
export class UserAgent {
  readonly store: TokenStore;
  #issuer: Promise<Issuer> | undefined;
  /** The refresh in flight: concurrent callers share it (a second use of a rotated refresh token revokes the family). */
  #refreshing: Promise<string> | undefined;
  /** The DPoP handle of the stored key, made once per key. */
  #dpop: { key: StoredKeyPair; handle: Promise<oauth.DPoPHandle> } | undefined;

  constructor(readonly options: UserAgentOptions) {
    this.store = options.store ?? new MemoryTokenStore();
  }

  get #client(): oauth.Client {
    return { client_id: this.options.clientId };
  }

  get #auth(): oauth.ClientAuth {
    return clientAuth(this.options.credentials ?? { public: true });
  }

  async #discover(): Promise<Issuer> {
    this.#issuer ??= Issuer.discover(this.options.issuer).catch((error: unknown) => {
      this.#issuer = undefined;
      throw error;
    });
    return this.#issuer;
  }

  /** The DPoP handle the stored tokens are bound to, if they are. */
  async dpop(): Promise<oauth.DPoPHandle | undefined> {
    const key = (await this.store.load())?.dpopKey;
    if (!key) return undefined;
    if (this.#dpop?.key !== key) this.#dpop = { key, handle: importKeyPair(key).then((pair) => oauth.DPoP(this.#client, pair)) };
    return this.#dpop.handle;
  }

  /** How requests to a resource present its tokens (Bearer, or DPoP with a proof per request). */
  async presenting(): Promise<typeof fetch> {
    const dpop = await this.dpop();
    return dpop ? presentingWithDPoP(dpop, (await this.#discover()).http) : fetch;
  }

  /** The person signs in and consents; the tokens are stored. `authorizationDetails` replaces the configured ones (step-up). */
  async login(request: { authorizationDetails?: readonly AuthorizationDetail[]; scope?: string } = {}): Promise<StoredTokens> {
    const issuer = await this.#discover();
    const { metadata, http } = issuer;
    if (!metadata.authorization_endpoint) throw new MisuseError('no_authorization_endpoint', 'the issuer has no authorization endpoint');
    const details = request.authorizationDetails ?? this.options.authorizationDetails;
    const scope = request.scope ?? this.options.scope;
    const keyPair = this.options.dpop ? await newKeyPair(true) : undefined;
    const dpop = keyPair ? { DPoP: oauth.DPoP(this.#client, keyPair) } : {};
    const redirect = await LoopbackRedirect.start({ timeoutSeconds: this.options.loginTimeout ?? 300 });
    try {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      // With DPoP, the proof at PAR binds the code to the key (RFC 9449 §10.1).
      const pushed = await translated(() =>
        retryingNonce(async () => {
          const response = await oauth.pushedAuthorizationRequest(
            metadata,
            this.#client,
            this.#auth,
            {
              response_type: 'code',
              redirect_uri: redirect.redirectUri,
              code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
              code_challenge_method: 'S256',
              state,
              ...requestParameters({ scope, resource: this.options.resource, authorizationDetails: details }),
            },
            { ...http, ...dpop },
          );
          return oauth.processPushedAuthorizationResponse(metadata, this.#client, response);
        }),
      );
      const url = new URL(metadata.authorization_endpoint);
      url.search = new URLSearchParams({ client_id: this.options.clientId, request_uri: pushed.request_uri }).toString();
      await (this.options.openBrowser ?? printUrl)(url);
      const callback = await redirect.callback;
      // State and, where advertised, `iss` (RFC 9207) are checked here.
      const parameters = await translated(async () => oauth.validateAuthResponse(metadata, this.#client, callback, state));
      const tokens = await translated(() =>
        retryingNonce(async () => {
          const response = await oauth.authorizationCodeGrantRequest(
            metadata,
            this.#client,
            this.#auth,
            parameters,
            redirect.redirectUri,
            verifier,
            {
              ...http,
              ...dpop,
              ...(this.options.resource ? { additionalParameters: { resource: this.options.resource } } : {}),
            },
          );
          return oauth.processAuthorizationCodeResponse(metadata, this.#client, response);
        }),
      );
      return this.#save(tokens, undefined, keyPair ? await exportKeyPair(keyPair) : undefined);
    } finally {
      // Also when the sign-in failed before the browser came back: no listener or timer outlives login().
      redirect.close();
    }
  }

  /** A fresh access token: the stored one, or one from the refresh token (which rotates). */
  async accessToken(options: { renew?: boolean } = {}): Promise<string> {
    const stored = await this.store.load();
    if (!stored) throw new MisuseError('not_logged_in', 'sign in first (login)');
    const margin = this.options.refreshMargin ?? 30;
    if (!options.renew && stored.expiresAt - margin > Date.now() / 1000) return stored.accessToken;
    if (!stored.refreshToken) throw new MisuseError('not_logged_in', 'the session ended; sign in again (login)');
    this.#refreshing ??= this.#refresh(stored).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(stored: StoredTokens): Promise<string> {
    const refreshToken = stored.refreshToken as string;
    const { metadata, http } = await this.#discover();
    const DPoP = await this.dpop();
    const tokens = await translated(() =>
      retryingNonce(async () => {
        const response = await oauth.refreshTokenGrantRequest(metadata, this.#client, this.#auth, refreshToken, {
          ...http,
          ...(DPoP ? { DPoP } : {}),
          ...(this.options.resource ? { additionalParameters: { resource: this.options.resource } } : {}),
        });
        return oauth.processRefreshTokenResponse(metadata, this.#client, response);
      }),
    );
    return (await this.#save(tokens, stored, stored.dpopKey)).accessToken;
  }

  async #save(
    tokens: oauth.TokenEndpointResponse,
    previous: StoredTokens | undefined,
    dpopKey: StoredKeyPair | undefined,
  ): Promise<StoredTokens> {
    const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
    const details = tokens.authorization_details as readonly Record<string, unknown>[] | undefined;
    const stored: StoredTokens = {
      accessToken: tokens.access_token,
      expiresAt: Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 0),
      ...(refreshToken ? { refreshToken } : {}),
      ...(tokens.scope ? { scope: tokens.scope } : {}),
      ...(details ? { authorizationDetails: details } : {}),
      ...(dpopKey ? { dpopKey } : {}),
    };
    await this.store.save(stored);
    return stored;
  }
}
