import type { webcrypto } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { MisuseError, translated } from './errors.js';

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * The identity provider an agent talks to: its RFC 8414 metadata, discovered
 * once and checked by oauth4webapi (the issuer must match). Plain http is
 * accepted only on loopback (a development domain): anywhere else a token
 * would cross the network readable.
 */
export class Issuer {
  private constructor(
    readonly metadata: oauth.AuthorizationServer,
    /** oauth4webapi's request options for this issuer. */
    readonly http: { [oauth.allowInsecureRequests]?: boolean },
  ) {}

  static async discover(issuer: string): Promise<Issuer> {
    const url = new URL(issuer);
    if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname))
      throw new MisuseError('insecure_issuer', 'the issuer must use https (http only on loopback)');
    const http = url.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};
    return translated(async () => {
      const response = await oauth.discoveryRequest(url, { algorithm: 'oauth2', ...http });
      return new Issuer(await oauth.processDiscoveryResponse(url, response), http);
    });
  }
}

/** How an agent authenticates to the token endpoint. */
export type Credentials =
  | { readonly clientSecret: string; readonly method?: 'client_secret_basic' | 'client_secret_post' }
  | { readonly privateKey: webcrypto.CryptoKey; readonly kid?: string }
  | { readonly public: true };

export function clientAuth(credentials: Credentials): oauth.ClientAuth {
  if ('public' in credentials) return oauth.None();
  if ('privateKey' in credentials)
    return oauth.PrivateKeyJwt(credentials.kid ? { key: credentials.privateKey, kid: credentials.kid } : credentials.privateKey);
  return credentials.method === 'client_secret_post'
    ? oauth.ClientSecretPost(credentials.clientSecret)
    : oauth.ClientSecretBasic(credentials.clientSecret);
}

/** RFC 9396 authorization details as the request parameter. */
export type AuthorizationDetail = { readonly type: string } & Readonly<Record<string, unknown>>;

export function requestParameters(options: {
  readonly scope?: string | undefined;
  readonly resource?: string | undefined;
  readonly authorizationDetails?: readonly AuthorizationDetail[] | undefined;
}): Record<string, string> {
  return {
    ...(options.scope ? { scope: options.scope } : {}),
    ...(options.resource ? { resource: options.resource } : {}),
    ...(options.authorizationDetails?.length ? { authorization_details: JSON.stringify(options.authorizationDetails) } : {}),
  };
}
