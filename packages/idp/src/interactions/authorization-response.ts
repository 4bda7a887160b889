import type { FastifyReply } from 'fastify';
import type { AuthorizationRequest } from './model.js';

/**
 * Sends the browser back to the client with `code` or `error`, always with
 * `state` (when sent) and `iss` (RFC 9207, SECURITY A11). 303 so that a POST
 * is never replayed to the client (RFC 9700 §4.12, SECURITY A14).
 */
export function redirectToClient(
  reply: FastifyReply,
  issuer: string,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
  result: { code: string } | { error: string; error_description?: string },
): FastifyReply {
  const url = new URL(request.redirectUri);
  for (const [name, value] of Object.entries(result)) url.searchParams.set(name, value);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  url.searchParams.set('iss', issuer);
  return reply.header('cache-control', 'no-store').redirect(url.href, 303);
}
