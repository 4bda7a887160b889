import type { IncomingMessage, ServerResponse } from 'node:http';
import { traceparent } from '@palisade/audit';
import { errorAnswer } from '../challenge.js';
import { type AuditSink, auditWhenFinished, noteRefusal } from '../decisions.js';
import { protectedResourceMetadata, protectedResourceMetadataPath, type ResourceMetadataOptions } from '../metadata.js';
import { requestTrace } from '../trace.js';
import type { TokenVerifier, VerifiedToken } from '../verify.js';

export type ProtectedHandler = (request: IncomingMessage, response: ServerResponse, token: VerifiedToken) => unknown;

/** Writes the RFC 6750 / RFC 9728 answer for a refusal on a plain node:http response. */
export function sendRefusal(
  response: ServerResponse,
  audience: string,
  error: unknown | undefined,
  options: { readonly dpopRequired?: boolean } = {},
): void {
  const answer = errorAnswer(audience, error, [], options);
  noteRefusal(response, answer.body);
  response.writeHead(answer.status, { ...answer.headers, ...(answer.body ? { 'content-type': 'application/json' } : {}) });
  response.end(answer.body ? JSON.stringify(answer.body) : undefined);
}

/**
 * Plain `node:http`: serves the Protected Resource Metadata, verifies every
 * other request, and calls `handler` with the verified token. Errors the
 * handler throws (e.g. `requireDetail`) are answered the same way.
 *
 * @example
 * createServer(protectNodeHandler(verifier, (req, res, token) => {
 *   requireDetail(token, { type: 'file_access', locations: [FIN], actions: ['read'] });
 *   res.end('ok');
 * })).listen(9410);
 */
export function protectNodeHandler(
  verifier: TokenVerifier,
  handler: ProtectedHandler,
  metadata: Omit<ResourceMetadataOptions, 'audience' | 'issuer'> = {},
  options: { readonly audit?: AuditSink } = {},
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const path = protectedResourceMetadataPath(verifier.audience);
  const document = JSON.stringify(protectedResourceMetadata({ ...metadata, audience: verifier.audience, issuer: verifier.issuer }));
  return async (request, response) => {
    const url = request.url ?? '/';
    if (request.method === 'GET' && (url === path || url === '/.well-known/oauth-protected-resource')) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(document);
      return;
    }
    // The caller's trace (or a new one) goes on the token the handler gets: its exchanges and fetches continue it.
    const traceId = requestTrace(request.headers.traceparent);
    response.setHeader('traceparent', traceparent(traceId));
    let verified: VerifiedToken | undefined;
    auditWhenFinished(response, options.audit, {
      audience: verifier.audience,
      method: request.method,
      url,
      traceId,
      token: () => verified,
    });
    try {
      const token = await verifier.verifyRequest({ headers: request.headers, method: request.method ?? 'GET', url, traceId });
      if (!token) return sendRefusal(response, verifier.audience, undefined, { dpopRequired: verifier.dpopRequired });
      verified = token;
      await handler(request, response, token);
    } catch (error) {
      if (!response.headersSent) sendRefusal(response, verifier.audience, error);
    }
  };
}
