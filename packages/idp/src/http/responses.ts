import { DPOP_ALGORITHMS, OAuthError, toOAuthError } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';

const rejections = new WeakMap<FastifyRequest, OAuthError>();

/** The OAuth error a request was answered with, if any (for the audit trail). */
export function rejectionOf(request: FastifyRequest): OAuthError | undefined {
  return rejections.get(request);
}

/** OAuth 2.1 §3.2.3: token responses are never cached. */
export function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/**
 * The one JSON error serializer for back-channel endpoints (RFC 6749 §5.2).
 * Unknown failures become `server_error`; the private detail goes to the log only.
 */
export function sendError(reply: FastifyReply, thrown: unknown): FastifyReply {
  const error: OAuthError = toOAuthError(thrown);
  rejections.set(reply.request, error);
  if (error.status >= 500) reply.log.error({ err: error.detail }, 'request failed');
  else reply.log.info({ error: error.error, detail: error.detail }, 'request refused');
  // RFC 6585 §4: how long a throttled client should wait.
  const { retryAfter } = error as { retryAfter?: unknown };
  if (error.status === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
  if (error.error === 'invalid_client') {
    // RFC 6749 §5.2: a 401 invalid_client carries a WWW-Authenticate challenge.
    reply.header('www-authenticate', 'Basic realm="palisade", charset="UTF-8"');
  }
  return noStore(reply).code(error.status).type('application/json').send(error.toJSON());
}

/**
 * RFC 6750 §3: errors at a protected endpoint (userinfo) go in WWW-Authenticate.
 * §3.1: a request without any token gets the bare challenges, no error code.
 * RFC 9449 §7.1: a DPoP request's error is a DPoP challenge, with the
 * algorithms a proof may use; a proof error is 401 there, not 400.
 */
export function sendBearerError(
  reply: FastifyReply,
  thrown: OAuthError | undefined,
  { scheme = 'Bearer', offerDpop = false }: { scheme?: 'Bearer' | 'DPoP'; offerDpop?: boolean } = {},
): FastifyReply {
  const algs = `algs="${DPOP_ALGORITHMS.join(' ')}"`;
  if (!thrown) {
    const challenge = offerDpop ? `Bearer realm="palisade", DPoP realm="palisade", ${algs}` : 'Bearer realm="palisade"';
    noStore(reply).header('www-authenticate', challenge);
    return reply.code(401).send();
  }
  const dpop = scheme === 'DPoP' || thrown.error === 'invalid_dpop_proof' || thrown.error === 'use_dpop_nonce';
  const error =
    dpop && thrown.status === 400 && thrown.error !== 'invalid_request' ? new OAuthError(thrown.error, 401, thrown.description) : thrown;
  const params = `realm="palisade", error="${error.error}", error_description="${error.description}"`;
  noStore(reply).header('www-authenticate', dpop ? `DPoP ${params}, ${algs}` : `Bearer ${params}`);
  rejections.set(reply.request, error);
  return reply.code(error.status).type('application/json').send(error.toJSON());
}
