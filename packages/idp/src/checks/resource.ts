import { InvalidTarget } from '@palisade/core';
import type { Client, Realm } from '../realm.js';

/**
 * RFC 8707 §2: `resource` is an absolute URI without a fragment, naming a
 * resource server this IdP knows and this client may reach (SECURITY T15).
 * Palisade issues single-audience tokens, so one resource per request.
 */
export function checkResource(realm: Realm, client: Client, given: readonly string[]): string | undefined {
  // RFC 6749 §3.1: an empty value counts as absent.
  const values = given.filter((value) => value !== '');
  if (values.length === 0) return undefined;
  if (values.length > 1) throw InvalidTarget('only one resource per request is supported');
  const value = values[0] as string;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw InvalidTarget('resource must be an absolute URI');
  }
  if (url.hash !== '' || value.includes('#')) throw InvalidTarget('resource must not contain a fragment');
  if (!realm.resourceServers.has(value)) throw InvalidTarget('resource is not a known resource server');
  if (!client.resources.has(value)) throw InvalidTarget('the client may not request this resource');
  return value;
}

/** The audience of an access token: the requested resource, else the client's default, else the IdP itself (userinfo). */
export function audienceFor(realm: Realm, client: Client, resource: string | undefined): string {
  return resource ?? client.defaultResource ?? realm.issuer;
}
