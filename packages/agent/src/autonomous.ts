import * as oauth from 'oauth4webapi';
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

  constructor(readonly options: AutonomousAgentOptions) {}

  async accessToken(options: { renew?: boolean } = {}): Promise<string> {
    const now = Date.now() / 1000;
    if (!options.renew && this.#cached && this.#cached.until > now) return this.#cached.token;
    this.#issuer ??= Issuer.discover(this.options.issuer).catch((error: unknown) => {
      this.#issuer = undefined;
      throw error;
    });
    const issuer = await this.#issuer;
    const client: oauth.Client = { client_id: this.options.clientId };
    const tokens = await translated(async () => {
      const response = await oauth.clientCredentialsGrantRequest(
        issuer.metadata,
        client,
        clientAuth(this.options.credentials),
        requestParameters(this.options),
        issuer.http,
      );
      return oauth.processClientCredentialsResponse(issuer.metadata, client, response);
    });
    this.#cached = { token: tokens.access_token, until: now + (tokens.expires_in ?? 0) - (this.options.refreshMargin ?? 30) };
    return tokens.access_token;
  }
}
