import { sha256 } from '@palisade/core';
import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import { ClientDirectory } from './clients/directory.js';
import type { ClientAuthMethod, DeliveryMode, ExchangeRuleConfig, GrantType, ParsedConfig, SigningAlgorithm } from './config/schema.js';
import { DetailPolicy } from './rar/policy.js';
import { DetailTypes } from './rar/registry.js';

export interface Client {
  readonly id: string;
  readonly name: string;
  /** SHA-256 of the secret: secrets are high-entropy, so a fast hash and a constant-time compare suffice. */
  readonly secretHash: string | undefined;
  readonly authMethods: ReadonlySet<ClientAuthMethod>;
  readonly isPublic: boolean;
  readonly jwks: JWTVerifyGetKey | undefined;
  readonly grantTypes: ReadonlySet<GrantType>;
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly scopes: ReadonlySet<string>;
  readonly defaultScopes: readonly string[];
  readonly defaultResource: string | undefined;
  readonly resources: ReadonlySet<string>;
  readonly idTokenAlg: SigningAlgorithm;
  readonly requireConsent: boolean;
  readonly authorizationDetailsTypes: ReadonlySet<string>;
  readonly requirePushedAuthorizationRequests: boolean;
  /** RFC 9449 §5.2: token requests without a DPoP proof are refused. */
  readonly dpopBoundAccessTokens: boolean;
  /** CIBA §4 registration; undefined for clients without the CIBA grant. */
  readonly deliveryMode: DeliveryMode | undefined;
  readonly notificationEndpoint: string | undefined;
}

export interface User {
  readonly sub: string;
  readonly username: string;
  readonly passwordHash: string;
  readonly name: string;
  readonly email: string | undefined;
  readonly groups: readonly string[];
  readonly totpSecret: string | undefined;
  /** argon2id hash of the CIBA user_code, if the user set one. */
  readonly userCodeHash: string | undefined;
}

export interface ResourceServer {
  readonly audience: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly clientId: string | undefined;
}

/**
 * The configuration turned into what the protocol code looks things up in:
 * clients by id, users by username and sub, resource servers by audience.
 * Built once at start-up; secrets are hashed here and the plain values dropped.
 */
export class Realm {
  readonly config: ParsedConfig;
  readonly issuer: string;
  /** Configured clients, and clients described by metadata documents (resolved on first sight). */
  readonly clients: ClientDirectory;
  readonly usersByName: ReadonlyMap<string, User>;
  readonly usersBySub: ReadonlyMap<string, User>;
  /** Lower-cased email → user (CIBA login_hint may be an email). */
  readonly usersByEmail: ReadonlyMap<string, User>;
  readonly resourceServers: ReadonlyMap<string, ResourceServer>;
  readonly scopesSupported: readonly string[];
  /** Scope → the audiences of the resource servers that define it. */
  readonly scopeOwners: ReadonlyMap<string, readonly string[]>;
  readonly detailTypes: DetailTypes;
  readonly exchangeRules: readonly ExchangeRuleConfig[];
  /** Audience → the client that resource server authenticates as. */
  readonly audienceOwners: ReadonlyMap<string, string>;
  readonly detailPolicy: DetailPolicy;

  constructor(config: ParsedConfig) {
    this.config = config;
    this.issuer = config.issuer;
    const idTokenDefault: SigningAlgorithm = config.keys.algorithms.includes('RS256') ? 'RS256' : (config.keys.algorithms[0] ?? 'ES256');
    const configured = new Map(
      config.clients.map((c) => {
        const authMethods = new Set([c.token_endpoint_auth_method].flat());
        const client: Client = {
          id: c.client_id,
          name: c.name ?? c.client_id,
          secretHash: c.client_secret === undefined ? undefined : sha256(c.client_secret),
          authMethods,
          isPublic: authMethods.has('none'),
          jwks: c.jwks ? createLocalJWKSet({ keys: c.jwks.keys as JWK[] }) : undefined,
          grantTypes: new Set(c.grant_types),
          redirectUris: c.redirect_uris,
          postLogoutRedirectUris: c.post_logout_redirect_uris,
          scopes: new Set(c.scopes),
          defaultScopes: c.default_scopes,
          defaultResource: c.default_resource,
          // Least privilege: a client reaches only the resources it names, or its default one.
          resources: new Set(c.resources ?? (c.default_resource ? [c.default_resource] : [])),
          idTokenAlg: c.id_token_signed_response_alg ?? idTokenDefault,
          requireConsent: c.require_consent,
          authorizationDetailsTypes: new Set(c.authorization_details_types),
          requirePushedAuthorizationRequests: c.require_pushed_authorization_requests || config.par.required,
          dpopBoundAccessTokens: c.dpop_bound_access_tokens,
          deliveryMode: c.backchannel_token_delivery_mode,
          notificationEndpoint: c.backchannel_client_notification_endpoint,
        };
        return [client.id, client];
      }),
    );
    this.clients = new ClientDirectory(configured, config, idTokenDefault);
    const users: User[] = config.users.map((u) => ({
      sub: u.sub ?? u.username,
      username: u.username,
      passwordHash: u.password_hash,
      name: u.name,
      email: u.email,
      groups: u.groups,
      totpSecret: u.totp_secret,
      userCodeHash: u.user_code_hash,
    }));
    this.usersByName = new Map(users.map((u) => [u.username, u]));
    this.usersBySub = new Map(users.map((u) => [u.sub, u]));
    this.usersByEmail = new Map(users.flatMap((u) => (u.email ? [[u.email.toLowerCase(), u] as const] : [])));
    this.resourceServers = new Map(
      config.resource_servers.map((r) => [r.audience, { audience: r.audience, name: r.name, scopes: r.scopes, clientId: r.client_id }]),
    );
    const owners = new Map<string, string[]>();
    for (const rs of config.resource_servers) for (const scope of rs.scopes) owners.set(scope, [...(owners.get(scope) ?? []), rs.audience]);
    this.scopeOwners = owners;
    this.exchangeRules = config.token_exchange.rules;
    this.audienceOwners = new Map(config.resource_servers.flatMap((r) => (r.client_id ? [[r.audience, r.client_id] as const] : [])));
    this.detailTypes = new DetailTypes(config.authorization_details_types);
    this.detailPolicy = new DetailPolicy(config.authorization_details_policy);
    this.scopesSupported = [...new Set([...config.scopes, ...config.resource_servers.flatMap((r) => r.scopes)])];
  }
}
