import { InvalidScope } from '@palisade/core';
import type { Client, Realm } from '../realm.js';

/** Every requested scope must be known and allowed for this client (RFC 6749 §3.3, SECURITY A13, T14). */
export function checkScope(client: Client, requested: readonly string[]): string[] {
  const refused = requested.filter((scope) => !client.scopes.has(scope));
  if (refused.length > 0) throw InvalidScope('the requested scope is not allowed for this client');
  return [...requested];
}

/** OAuth 2.1 §4.3.1 / RFC 6749 §6: a refresh may narrow the scope, never widen it (SECURITY R4). */
export function narrowScope(granted: readonly string[], requested: readonly string[]): string[] {
  if (requested.length === 0) return [...granted];
  if (requested.some((scope) => !granted.includes(scope))) throw InvalidScope('the requested scope exceeds the grant');
  return [...requested];
}

/**
 * A scope a resource server defines means something only at that server: a
 * token may carry it only when its audience is one of the servers defining
 * it (RFC 8707 §2, least privilege). `tools.access` belongs in a gateway
 * token, never in a token for the HR tool.
 */
export function checkScopeAudience(realm: Realm, scope: readonly string[], audience: string): void {
  for (const name of scope) {
    const owners = realm.scopeOwners.get(name);
    if (owners && !owners.includes(audience)) throw InvalidScope('a requested scope belongs to another resource server');
  }
}

/** The scopes of a list that mean something at `audience` (for default scopes, which nobody asked for by name). */
export function scopesForAudience(realm: Realm, scope: readonly string[], audience: string): string[] {
  return scope.filter((name) => realm.scopeOwners.get(name)?.includes(audience) ?? true);
}
