import * as oauth from 'oauth4webapi';
import { newKeyPair, presentingWithDPoP, retryingNonce } from './dpop.js';
import { translated } from './errors.js';
import { type AuthorizationDetail, type Credentials, clientAuth, Issuer, requestParameters } from './issuer.js';

export interface AutonomousAgentOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly credentials: Exclude<Credentials, { public: true }>;
  /** Exactly what the agent may do (RFC 9396), e.g. one tool action at the gateway. */
  readonly authorizationDetails?: readonly AuthorizationDetail[];
  /** The audience of its tokens (RFC 8707), e.g. the MCP gateway. */
  readonly resource?: string;
  readonly scope?: string;
  /** Seconds before expiry at which a cached token is renewed (default 30). */
  readonly refreshMargin?: number;
  /** Sender-constrained tokens (RFC 9449): `true` for a key of this process's own (never leaves memory), or a key pair. */
  readonly dpop?: boolean | oauth.CryptoKeyPair;
}

/**
 * An agent acting on its own (client credentials, RFC 6749 §4.4), with
 * client_secret_basic/post or private_key_jwt (RFC 7523). Its token is
 * cached until `refreshMargin` seconds before it expires.
 *
 * @example
 * const agent = new AutonomousAgent({ issuer, clientId: 'ops-bot', credentials: { clientSecret },
 *   resource: 'http://127.0.0.1:9401/mcp',
 *   authorizationDetails: [{ type: 'tool_access', locations: ['http://127.0.0.1:9411'], actions: ['reports.schedules'] }] });
 * const token = await agent.accessToken();
 */
export class AutonomousAgent {
  #issuer: Promise<Issuer> | undefined;
  #cached: { token: string; until: number } | undefined;
  #dpop: Promise<oauth.DPoPHandle | undefined> | undefined;

  constructor(readonly options: AutonomousAgentOptions) {}

  /** The DPoP handle its tokens are bound to, if it uses DPoP. */
  dpop(): Promise<oauth.DPoPHandle | undefined> {
    const { dpop } = this.options;
    this.#dpop ??= (async () => {
      if (!dpop) return undefined;
      const keyPair = dpop === true ? await newKeyPair() : dpop;
      return oauth.DPoP({}, keyPair);
    })();
    return this.#dpop;
  }

  /** How requests to a resource present its tokens (Bearer, or DPoP with a proof per request). */
  async presenting(): Promise<typeof fetch> {
    const dpop = await this.dpop();
    return dpop ? presentingWithDPoP(dpop, (await this.#discover()).http) : fetch;
  }

  #discover(): Promise<Issuer> {
    this.#issuer ??= Issuer.discover(this.options.issuer).catch((error: unknown) => {
      this.#issuer = undefined;
      throw error;
    });
    return this.#issuer;
  }

  async accessToken(options: { renew?: boolean } = {}): Promise<string> {
    const now = Date.now() / 1000;
    if (!options.renew && this.#cached && this.#cached.until > now) return this.#cached.token;
    const issuer = await this.#discover();
    const client: oauth.Client = { client_id: this.options.clientId };
    const DPoP = await this.dpop();
    const tokens = await translated(() =>
      retryingNonce(async () => {
        const response = await oauth.clientCredentialsGrantRequest(
          issuer.metadata,
          client,
          clientAuth(this.options.credentials),
          requestParameters(this.options),
          { ...issuer.http, ...(DPoP ? { DPoP } : {}) },
        );
        return oauth.processClientCredentialsResponse(issuer.metadata, client, response);
      }),
    );
    this.#cached = { token: tokens.access_token, until: now + (tokens.expires_in ?? 0) - (this.options.refreshMargin ?? 30) };
    return tokens.access_token;
  }
}
