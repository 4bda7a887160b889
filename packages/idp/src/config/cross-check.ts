import { detailTypeProblems } from '../rar/registry.js';
import type { ParsedConfig } from './schema.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

function duplicates(values: readonly string[]): string[] {
  return values.filter((v, i) => values.indexOf(v) !== i);
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

  for (const dup of duplicates(config.users.map((u) => u.username))) problems.push(`users: duplicate username ${dup}`);
  for (const dup of duplicates(config.users.map((u) => u.sub ?? u.username))) problems.push(`users: duplicate sub ${dup}`);
  for (const dup of duplicates(config.clients.map((c) => c.client_id))) problems.push(`clients: duplicate client_id ${dup}`);
  for (const dup of duplicates(config.resource_servers.map((r) => r.audience))) {
    problems.push(`resource_servers: duplicate audience ${dup}`);
  }

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
    client.resources?.forEach((resource, j) => {
      if (!audiences.has(resource)) problems.push(`${at}.resources[${j}] is not a configured resource server audience`);
    });
    if (client.id_token_signed_response_alg && !config.keys.algorithms.includes(client.id_token_signed_response_alg)) {
      problems.push(`${at}.id_token_signed_response_alg is not in keys.algorithms`);
    }
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

  config.resource_servers.forEach((rs, i) => {
    if (rs.client_id !== undefined && !clientIds.has(rs.client_id)) {
      problems.push(`resource_servers[${i}].client_id names no configured client`);
    }
  });
  return problems;
}
