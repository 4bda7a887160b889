import * as client from 'openid-client';
import { discover } from './clients.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const SAML2_TYPE = 'urn:ietf:params:oauth:token-type:saml2';

/**
 * A service that exchanges tokens on behalf of users, as the resource-server
 * SDK will: it authenticates with its secret, presents its own
 * client_credentials token as actor_token (delegation, RFC 8693 §1.1) and
 * uses openid-client's genericGrantRequest.
 */
export class ExchangingService {
  readonly config: client.Configuration;
  #actorToken: string | undefined;

  private constructor(config: client.Configuration) {
    this.config = config;
  }

  static async connect(issuer: string, id: string, secret: string): Promise<ExchangingService> {
    return new ExchangingService(await discover(issuer, id, client.ClientSecretBasic(secret)));
  }

  async actorToken(): Promise<string> {
    this.#actorToken ??= (await client.clientCredentialsGrant(this.config)).access_token;
    return this.#actorToken;
  }

  async exchange(subjectToken: string, parameters: Record<string, string>): Promise<client.TokenEndpointResponse> {
    return client.genericGrantRequest(this.config, TOKEN_EXCHANGE, {
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: await this.actorToken(),
      actor_token_type: ACCESS_TOKEN_TYPE,
      ...parameters,
    });
  }
}
