import type { IncomingMessage, ServerResponse } from 'node:http';
import { traceparent } from '@palisade/audit';
import { type AuditSink, auditWhenFinished } from '../decisions.js';
import { requestTrace } from '../trace.js';
import type { TokenVerifier, VerifiedToken } from '../verify.js';
import { sendRefusal } from './node-http.js';

/** The parts of an Express request the middleware uses; the SDK does not depend on Express. */
export interface ExpressLikeRequest extends IncomingMessage {
  body?: unknown;
  originalUrl?: string;
  palisadeToken?: VerifiedToken;
}

/**
 * Express middleware: verifies the token and puts it on `req.palisadeToken`,
 * or answers 401/400 itself. Use `requireDetail(req.palisadeToken, …)` in
 * routes and `expressErrorHandler` to answer its 403s.
 *
 * @example
 * app.use(requireToken(verifier));
 * app.get('/finance/:name', (req, res) => { requireDetail(req.palisadeToken, {...}); res.send(read(req.params.name)); });
 * app.use(expressErrorHandler(verifier));
 */
export function requireToken(verifier: TokenVerifier, options: { readonly audit?: AuditSink } = {}) {
  return (request: ExpressLikeRequest, response: ServerResponse, next: (error?: unknown) => void): void => {
    // The caller's trace (or a new one) goes on req.palisadeToken: the routes' exchanges and fetches continue it.
    const traceId = requestTrace(request.headers.traceparent);
    response.setHeader('traceparent', traceparent(traceId));
    const url = request.originalUrl ?? request.url ?? '/';
    auditWhenFinished(response, options.audit, {
      audience: verifier.audience,
      method: request.method,
      url,
      traceId,
      token: () => request.palisadeToken,
    });
    verifier
      .verifyRequest({ headers: request.headers, method: request.method ?? 'GET', url, body: request.body, traceId })
      .then((token) => {
        if (!token) return sendRefusal(response, verifier.audience, undefined, { dpopRequired: verifier.dpopRequired });
        request.palisadeToken = token;
        next();
      })
      .catch((error: unknown) => sendRefusal(response, verifier.audience, error));
  };
}

/** Express error handler answering SDK errors (insufficient_scope and the like) with the RFC 6750 challenge. */
export function expressErrorHandler(verifier: TokenVerifier) {
  return (error: unknown, _request: IncomingMessage, response: ServerResponse, _next: (error?: unknown) => void): void => {
    sendRefusal(response, verifier.audience, error);
  };
}
