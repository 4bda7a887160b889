import { detailTypeProblems } from '../rar/registry.js';
import { CIBA, type ClientConfig, type ParsedConfig } from './schema.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/** `list[i].key: duplicate value (first at list[j])` for every repeat, naming the exact entry. */
function duplicates(list: string, key: string, values: readonly string[]): string[] {
  return values.flatMap((value, i) => {
    const first = values.indexOf(value);
    return first === i ? [] : [`${list}[${i}].${key}: duplicate ${key} ${value} (first at ${list}[${first}])`];
  });
}

/** JWK members that only private or symmetric keys have: a client's `jwks` must hold public keys only. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** CIBA §4 client registration: a mode with the grant, an endpoint exactly for ping and push, confidential clients only. */
function backchannelProblems(at: string, client: ClientConfig, methods: readonly string[], loopbackIssuer: boolean): string[] {
  const problems: string[] = [];
  const mode = client.backchannel_token_delivery_mode;
  const endpoint = client.backchannel_client_notification_endpoint;
  if (!client.grant_types.includes(CIBA)) {
    if (mode !== undefined || endpoint !== undefined) problems.push(`${at}: backchannel settings need the ${CIBA} grant type`);
    return problems;
  }
  if (methods.includes('none'))
    problems.push(`${at}.grant_types: a public client cannot use CIBA (CIBA §4 requires client authentication)`);
  if (mode === undefined) problems.push(`${at}.backchannel_token_delivery_mode is required with the CIBA grant type`);
  if (mode === 'poll' && endpoint !== undefined) problems.push(`${at}.backchannel_client_notification_endpoint is only for ping and push`);
  if ((mode === 'ping' || mode === 'push') && endpoint === undefined) {
    problems.push(`${at}.backchannel_client_notification_endpoint is required in ${mode} mode`);
  }
  if (endpoint !== undefined) {
    const url = new URL(endpoint);
    if (url.hash !== '' || endpoint.includes('#'))
      problems.push(`${at}.backchannel_client_notification_endpoint must not contain a fragment`);
    // CIBA §4: https. Plain http only between loopback addresses of a development (loopback) issuer.
    if (url.protocol !== 'https:' && !(loopbackIssuer && isLoopbackUrl(url))) {
      problems.push(`${at}.backchannel_client_notification_endpoint must use https (http only on loopback with a loopback issuer)`);
    }
  }
  return problems;
}

/**
 * Rules that span keys, each reported with the full path of the offending key.
 * Start-up fails on any of them, never the first request.
 */
export function crossCheck(config: ParsedConfig): string[] {
  const problems: string[] = [];
  const issuer = new URL(config.issuer);
  if (issuer.protocol !== 'https:' && !isLoopbackUrl(issuer)) {
    problems.push('issuer must use https unless it is a loopback address (OAuth 2.1 §1.5)');
  }
  // Serving TLS under an http issuer would advertise endpoints nobody answers.
  if (config.listen.tls && issuer.protocol !== 'https:') problems.push('listen.tls is set, so issuer must be an https URL');

  if (issuer.pathname !== '/') {
    // Every endpoint and the well-known documents are served at the root; a path would advertise URLs nobody serves.
    problems.push('issuer must not have a path (serve Palisade at the root of its own host name)');
  }
  const documents = config.client_id_metadata_documents;
  if (documents.enabled) {
    if (documents.allowed_hosts.length === 0)
      problems.push('client_id_metadata_documents.allowed_hosts: name the hosts documents may come from (nothing else is fetched)');
    const audiences = new Set(config.resource_servers.map((r) => r.audience));
    documents.resources.forEach((resource, i) => {
      if (!audiences.has(resource)) problems.push(`client_id_metadata_documents.resources[${i}]: ${resource} is not a resource server`);
    });
    documents.authorization_details_types.forEach((type, i) => {
      if (!(type in config.authorization_details_types))
        problems.push(`client_id_metadata_documents.authorization_details_types[${i}]: ${type} is not a declared type`);
    });
  }
  if (!config.keys.algorithms.includes('RS256')) {
    problems.push('keys.algorithms must include RS256 (OpenID Connect Discovery §3 requires it for ID tokens)');
  }

  problems.push(
    ...duplicates(
      'users',
      'username',
      config.users.map((u) => u.username),
    ),
  );
  problems.push(
    ...duplicates(
      'users',
      'sub',
      config.users.map((u) => u.sub ?? u.username),
    ),
  );
  // A CIBA login_hint may be an email: two users sharing one would make it ambiguous.
  const emails = config.users.map((u) => u.email?.toLowerCase());
  emails.forEach((email, i) => {
    const first = emails.indexOf(email);
    if (email !== undefined && first !== i) problems.push(`users[${i}].email: duplicate email ${email} (first at users[${first}])`);
  });
  problems.push(
    ...duplicates(
      'clients',
      'client_id',
      config.clients.map((c) => c.client_id),
    ),
  );
  problems.push(
    ...duplicates(
      'resource_servers',
      'audience',
      config.resource_servers.map((r) => r.audience),
    ),
  );
  // RFC 9068 §5: client_credentials tokens carry sub = client_id; it must never name a person too.
  const clientIdSet = new Set(config.clients.map((c) => c.client_id));
  config.users.forEach((u, i) => {
    if (clientIdSet.has(u.sub ?? u.username)) problems.push(`users[${i}]: sub ${u.sub ?? u.username} is also a client_id (RFC 9068 §5)`);
  });

  const audiences = new Set(config.resource_servers.map((r) => r.audience));
  const knownScopes = new Set([...config.scopes, ...config.resource_servers.flatMap((r) => r.scopes)]);
  const clientIds = new Set(config.clients.map((c) => c.client_id));

  config.clients.forEach((client, i) => {
    const at = `clients[${i}]`;
    const methods = [client.token_endpoint_auth_method].flat();
    const usesSecret = methods.includes('client_secret_basic') || methods.includes('client_secret_post');
    if (methods.includes('none') && methods.length > 1) {
      problems.push(`${at}.token_endpoint_auth_method: none cannot be combined with another method`);
    }
    if (usesSecret && client.client_secret === undefined) problems.push(`${at}.client_secret is required by ${methods.join(', ')}`);
    if (!usesSecret && client.client_secret !== undefined) problems.push(`${at}.client_secret is set but no secret method is allowed`);
    if (methods.includes('private_key_jwt') && client.jwks === undefined) problems.push(`${at}.jwks is required by private_key_jwt`);
    client.jwks?.keys.forEach((key, j) => {
      if (key.kty === 'oct' || PRIVATE_JWK_MEMBERS.some((member) => member in key)) {
        problems.push(`${at}.jwks.keys[${j}] must be a public key (no private or symmetric key material)`);
      }
    });
    if (methods.includes('none') && client.grant_types.includes('client_credentials')) {
      problems.push(`${at}.grant_types: a public client cannot use client_credentials (OAuth 2.1 §4.2)`);
    }
    if (client.grant_types.includes('authorization_code') && client.redirect_uris.length === 0) {
      problems.push(`${at}.redirect_uris must list at least one URI for authorization_code`);
    }
    if (client.grant_types.includes('refresh_token') && !client.grant_types.includes('authorization_code')) {
      problems.push(`${at}.grant_types: refresh_token needs authorization_code`);
    }
    for (const key of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
      client[key].forEach((uri, j) => {
        const url = new URL(uri);
        if (url.hash !== '' || uri.includes('#')) problems.push(`${at}.${key}[${j}] must not contain a fragment`);
        if (url.protocol !== 'https:' && !isLoopbackUrl(url)) problems.push(`${at}.${key}[${j}] must use https unless loopback`);
      });
    }
    client.scopes.forEach((scope, j) => {
      if (!knownScopes.has(scope)) problems.push(`${at}.scopes[${j}]: unknown scope ${scope}`);
    });
    client.default_scopes.forEach((scope, j) => {
      if (!client.scopes.includes(scope)) problems.push(`${at}.default_scopes[${j}] must also be in ${at}.scopes`);
    });
    if (client.default_resource !== undefined && !audiences.has(client.default_resource)) {
      problems.push(`${at}.default_resource is not a configured resource server audience`);
    }
    if (client.default_resource !== undefined && client.resources && !client.resources.includes(client.default_resource)) {
      problems.push(`${at}.default_resource must also be listed in ${at}.resources`);
    }
    client.resources?.forEach((resource, j) => {
      if (!audiences.has(resource)) problems.push(`${at}.resources[${j}] is not a configured resource server audience`);
    });
    if (client.id_token_signed_response_alg && !config.keys.algorithms.includes(client.id_token_signed_response_alg)) {
      problems.push(`${at}.id_token_signed_response_alg is not in keys.algorithms`);
    }
    problems.push(...backchannelProblems(at, client, methods, isLoopbackUrl(issuer)));
  });

  const detailTypes = new Set(Object.keys(config.authorization_details_types));
  problems.push(...detailTypeProblems(config.authorization_details_types));
  config.clients.forEach((client, i) => {
    client.authorization_details_types.forEach((type, j) => {
      if (!detailTypes.has(type)) problems.push(`clients[${i}].authorization_details_types[${j}]: unknown type ${type}`);
    });
  });
  config.authorization_details_policy.forEach((rule, i) => {
    if (!detailTypes.has(rule.type)) problems.push(`authorization_details_policy[${i}].type: unknown type ${rule.type}`);
    rule.clients?.forEach((id, j) => {
      if (!clientIds.has(id)) problems.push(`authorization_details_policy[${i}].clients[${j}] names no configured client`);
    });
  });

  config.token_exchange.rules.forEach((rule, i) => {
    const at = `token_exchange.rules[${i}]`;
    const client = config.clients.find((c) => c.client_id === rule.client);
    if (!client) problems.push(`${at}.client names no configured client`);
    else if (!client.grant_types.includes('urn:ietf:params:oauth:grant-type:token-exchange')) {
      problems.push(`${at}.client must have the token-exchange grant type`);
    }
    rule.from.forEach((aud, j) => {
      const owner = config.resource_servers.find((r) => r.audience === aud)?.client_id;
      // A token meant for Tool A can be exchanged only by Tool A (ADR 0006).
      if (owner !== rule.client) problems.push(`${at}.from[${j}] must be a resource server whose client_id is ${rule.client}`);
    });
    rule.to.forEach((aud, j) => {
      if (!audiences.has(aud)) problems.push(`${at}.to[${j}] is not a configured resource server audience`);
    });
    rule.authorization_details.forEach((ceiling, j) => {
      if (!detailTypes.has(ceiling.type)) problems.push(`${at}.authorization_details[${j}].type: unknown type ${ceiling.type}`);
    });
  });

  config.resource_servers.forEach((rs, i) => {
    if (rs.client_id !== undefined && !clientIds.has(rs.client_id)) {
      problems.push(`resource_servers[${i}].client_id names no configured client`);
    }
    const client = config.clients.find((c) => c.client_id === rs.client_id);
    if (client && [client.token_endpoint_auth_method].flat().includes('none')) {
      problems.push(`resource_servers[${i}].client_id names a public client, which cannot authenticate to introspect`);
    }
  });
  return problems;
}
