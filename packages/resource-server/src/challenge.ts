import { DPOP_ALGORITHMS, OAuthError, PayloadTooLarge, toOAuthError } from '@palisade/core';
import { InsufficientAuthorization } from './require.js';
import { DpopRefusal } from './verify.js';

const DPOP_ALGS = `algs="${DPOP_ALGORITHMS.join(' ')}"`;

/** RFC 9728 §3: the well-known path of a resource's metadata, inserted after the host. */
export function resourceMetadataUrl(audience: string): string {
  const url = new URL(audience);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.origin}/.well-known/oauth-protected-resource${path}`;
}

export interface ErrorAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown> | undefined;
}

/**
 * A framework's own refusal of a request it cannot read (unsupported media
 * type, malformed or oversized body: Fastify's `statusCode`, Express
 * body-parser's `status`) is the client's fault, not `server_error`: keep its
 * 4xx (SECURITY M8: a form body nobody parses; J2: 413).
 */
function clientError(error: unknown): OAuthError | undefined {
  if (error instanceof OAuthError || !(error instanceof Error)) return undefined;
  // The IdP refusing this service's own exchange is not the caller's fault: a 503, never a 4xx about their token.
  if (error.name === 'ExchangeError') return new OAuthError('temporarily_unavailable', 503, 'a downstream authorization failed');
  const { statusCode, status } = error as { statusCode?: unknown; status?: unknown };
  const code = typeof statusCode === 'number' ? statusCode : status;
  if (typeof code !== 'number' || code < 400 || code >= 500) return undefined;
  if (code === 413) return PayloadTooLarge('the request body is too large');
  return new OAuthError('invalid_request', code, 'the request could not be read');
}

/**
 * The answer to a refused request (RFC 6750 §3, RFC 9728 §5.1): a
 * `WWW-Authenticate: Bearer` challenge naming the resource metadata; no error
 * code when no token was sent (SECURITY M1), but the resource's scopes; for insufficient authorization,
 * the required scope in the challenge and the required details in the body.
 * Never a token or its content.
 */
export function errorAnswer(
  audience: string,
  thrown: unknown | undefined,
  scopes: readonly string[] = [],
  { dpopRequired = false }: { readonly dpopRequired?: boolean } = {},
): ErrorAnswer {
  const metadata = `resource_metadata="${resourceMetadataUrl(audience)}"`;
  if (thrown === undefined) {
    // MCP authorization: the scopes to ask for travel with the first challenge (RFC 6750 §3 `scope`).
    const scope = scopes.length > 0 ? `, scope="${scopes.join(' ')}"` : '';
    // RFC 9449 §7.1: both schemes are offered (Bearer first, for clients that read only the first), or DPoP alone where required.
    const dpop = `DPoP ${metadata}${scope}, ${DPOP_ALGS}`;
    const challenge = dpopRequired ? dpop : `Bearer ${metadata}${scope}, ${dpop}`;
    return { status: 401, headers: { 'www-authenticate': challenge, 'cache-control': 'no-store' }, body: undefined };
  }
  const error: OAuthError = clientError(thrown) ?? toOAuthError(thrown);
  const parts = [metadata, `error="${error.error}"`, `error_description="${error.description}"`];
  let body: Record<string, unknown> = error.toJSON();
  if (error instanceof InsufficientAuthorization) {
    if (error.requiredScope.length > 0) parts.push(`scope="${error.requiredScope.join(' ')}"`);
    if (error.requiredDetails.length > 0) body = { ...body, authorization_details: error.requiredDetails };
  }
  // 503 says "try again" (a dependency is down); any other server-side failure is a plain 500.
  const status = error.status > 500 && error.status !== 503 ? 500 : error.status;
  // RFC 9449 §7.1: a DPoP request's refusal is a DPoP challenge naming the algorithms, with a nonce to retry with if one is due.
  const dpop = error instanceof DpopRefusal;
  const scheme = dpop ? 'DPoP' : 'Bearer';
  if (dpop) parts.push(DPOP_ALGS);
  // RFC 6750 §3: the challenge belongs to 401 and 403; other errors (404, 400) are plain.
  const challenge = status === 401 || status === 403 ? { 'www-authenticate': `${scheme} ${parts.join(', ')}` } : {};
  const nonce = dpop && error.nonce ? { 'dpop-nonce': error.nonce } : {};
  return { status, headers: { ...challenge, ...nonce, 'cache-control': 'no-store' }, body };
}

export { OAuthError };
