import { isLoopbackUrl } from '../config/cross-check.js';
import type { Client } from '../realm.js';

/**
 * OAuth 2.1 §2.3.1 / RFC 9700 §4.1.3: exact string match. The one exception
 * (RFC 8252 §7.3, OAuth 2.1 §8.4.2): a registered loopback redirect matches
 * the same URI on any port, and only the port may differ (SECURITY A1, A4).
 */
export function matchesRegisteredRedirect(client: Client, requested: string): boolean {
  return matchesRegistered(client.redirectUris, requested);
}

/** The same rule for any list of registered URIs (redirects, post-logout redirects). */
export function matchesRegistered(registeredUris: readonly string[], requested: string): boolean {
  if (registeredUris.includes(requested)) return true;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' || !isLoopbackUrl(url) || url.hostname === 'localhost') return false;
  return registeredUris.some((registered) => {
    const candidate = new URL(registered);
    if (candidate.protocol !== 'http:' || !isLoopbackUrl(candidate)) return false;
    candidate.port = url.port;
    // Swap in the port, then compare strings: case, path, query and userinfo must still match exactly.
    return candidate.href === requested;
  });
}

/**
 * The redirect URI to use: the requested one when registered; the only
 * registered one when omitted (OAuth 2.1 §2.3.2, SECURITY A2).
 */
export function resolveRedirectUri(client: Client, requested: string | undefined): string | undefined {
  if (requested === undefined) return client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
  return matchesRegisteredRedirect(client, requested) ? requested : undefined;
}
