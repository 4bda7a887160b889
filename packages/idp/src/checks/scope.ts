import { InvalidScope } from '@palisade/core';
import type { Client } from '../realm.js';

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
