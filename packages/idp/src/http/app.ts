import cookie from '@fastify/cookie';
import { InvalidRequest, MethodNotAllowed, NotFound, OAuthError, PayloadTooLarge, ServerError } from '@palisade/core';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';
import { sendError } from './responses.js';

const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Query strings can carry codes or (misplaced) tokens: the log records method and path only (SECURITY L3). */
function requestForLog(request: { method: string; url: string }) {
  return { method: request.method, path: request.url.split('?')[0] };
}

/** Fastify errors raised before a handler runs, turned into OAuth errors. */
function frameworkError(thrown: unknown) {
  if (thrown instanceof OAuthError) return thrown;
  const error = (thrown ?? {}) as { statusCode?: number; code?: string };
  if (error.statusCode === 413) return PayloadTooLarge('the request body is too large');
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || error.statusCode === 415) {
    return InvalidRequest('unsupported Content-Type; use application/x-www-form-urlencoded');
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500)
    return InvalidRequest('the request is malformed');
  return ServerError('The server could not complete the request.', error.code);
}

/**
 * The HTTP shell shared by every endpoint: a form parser that keeps repeated
 * parameters visible (so endpoints can refuse them), a body limit checked
 * before parsing (SECURITY J2), security headers on every response (S2, A15),
 * and one error path that never leaks a stack.
 */
export function createHttpApp(
  logger: FastifyServerOptions['logger'],
  options: { readonly https?: { readonly cert: string; readonly key: string }; readonly hsts?: boolean } = {},
): FastifyInstance {
  const app = Fastify({
    ...(options.https ? { https: { cert: options.https.cert, key: options.https.key, minVersion: 'TLSv1.2' as const } } : {}),
    logger: logger ? { ...(typeof logger === 'object' ? logger : {}), serializers: { req: requestForLog } } : false,
    bodyLimit: DEFAULTS.http.bodyLimit,
    // A client that trickles its body must not hold a connection forever (slowloris).
    requestTimeout: DEFAULTS.http.requestTimeout * 1000,
    requestIdHeader: false,
    trustProxy: false,
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const params = new URLSearchParams(body as string);
    // SECURITY J2: no endpoint reads more than a few dozen parameters (the values endpoints read are measured in readParams).
    let count = 0;
    for (const _ of params.keys()) if (++count > DEFAULTS.http.maxParameters) return done(InvalidRequest('too many parameters'), undefined);
    done(null, params);
  });
  app.register(cookie);
  app.addHook('onSend', async (_request, reply, payload) => {
    const isPage = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
    // A route may set a policy of its own (the device page runs a script); others get the strict default.
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', isPage ? PAGE_CSP : API_CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-content-type-options', 'nosniff');
    // RFC 6797: an https issuer tells browsers never to try plain http again.
    if (options.hsts) reply.header('strict-transport-security', `max-age=${DEFAULTS.http.hstsMaxAge}`);
    return payload;
  });
  app.setErrorHandler((error, _request, reply) => sendError(reply, frameworkError(error)));
  app.setNotFoundHandler((_request, reply) => sendError(reply, NotFound('no such endpoint')));
  return app;
}

/** OAuth 2.1 §3.2: back-channel endpoints accept POST only; anything else is 405 with Allow (SECURITY T16). */
export function postOnly(app: FastifyInstance, paths: readonly string[]): void {
  for (const url of paths) {
    app.route({
      method: ['GET', 'PUT', 'DELETE', 'PATCH'],
      url,
      handler: async (_request, reply) => sendError(reply.header('allow', 'POST'), MethodNotAllowed('use POST')),
    });
  }
}
