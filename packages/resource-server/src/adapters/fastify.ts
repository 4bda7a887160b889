import { traceparent } from '@palisade/audit';
import { InvalidToken } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorAnswer } from '../challenge.js';
import { type AuditSink, decisionEvent, noteRefusal, refusalOf } from '../decisions.js';
import { protectedResourceMetadata, protectedResourceMetadataPath, type ResourceMetadataOptions } from '../metadata.js';
import { requestTrace } from '../trace.js';
import type { TokenVerifier, VerifiedToken } from '../verify.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified token of a protected route. */
    palisadeToken?: VerifiedToken;
  }
}

/** The verified token of a route behind `protect` (which refused the request already if there was none). */
export function tokenOf(request: FastifyRequest): VerifiedToken {
  if (!request.palisadeToken) throw InvalidToken('no verified token on this request');
  return request.palisadeToken;
}

/** The trace of each request behind `protect`. */
const traces = new WeakMap<FastifyRequest, string>();

/** The W3C trace id of a request behind `protect`: the caller's, or the one started for it. */
export function traceOf(request: FastifyRequest): string | undefined {
  return traces.get(request);
}

/** Sends the RFC 6750 / RFC 9728 answer for a refusal. */
export function refuse(
  reply: FastifyReply,
  audience: string,
  error: unknown | undefined,
  scopes: readonly string[] = [],
  options: { readonly dpopRequired?: boolean } = {},
): FastifyReply {
  const answer = errorAnswer(audience, error, scopes, options);
  noteRefusal(reply.raw, answer.body);
  reply.code(answer.status).headers(answer.headers);
  return answer.body ? reply.send(answer.body) : reply.send();
}

/**
 * Fastify adapter: serves the Protected Resource Metadata and verifies the
 * token of every route except the metadata; handlers find it on
 * `request.palisadeToken` and call `requireDetail` for their own action.
 *
 * @example
 * const verifier = new TokenVerifier({ issuer, audience: 'http://127.0.0.1:9410' });
 * protect(app, verifier, { name: 'Files' });
 * app.get('/:folder/:name', async (request) => {
 *   requireDetail(request.palisadeToken!, { type: 'file_access', locations: [...], actions: ['read'], identifier: request.params.name });
 * });
 */
export function protect(
  app: FastifyInstance,
  verifier: TokenVerifier,
  metadata: Omit<ResourceMetadataOptions, 'audience' | 'issuer'> = {},
  options: { readonly audit?: AuditSink } = {},
): void {
  const path = protectedResourceMetadataPath(verifier.audience);
  const document = protectedResourceMetadata({ ...metadata, audience: verifier.audience, issuer: verifier.issuer });
  app.get(path, async () => document);
  if (path !== '/.well-known/oauth-protected-resource') app.get('/.well-known/oauth-protected-resource', async () => document);
  const isMetadata = (request: FastifyRequest) => {
    const pathOnly = request.url.split('?')[0];
    return (
      (request.method === 'GET' || request.method === 'HEAD') && (pathOnly === path || pathOnly === '/.well-known/oauth-protected-resource')
    );
  };
  // Every call continues the caller's trace (or starts one): it goes on the verified token, so exchanges and
  // calls onward carry it, and on the audit events.
  app.addHook('onRequest', (request, reply, done) => {
    const traceId = requestTrace(request.headers.traceparent);
    traces.set(request, traceId);
    reply.header('traceparent', traceparent(traceId));
    done();
  });
  const { audit } = options;
  if (audit) {
    app.addHook('onResponse', async (request, reply) => {
      if (isMetadata(request)) return;
      audit.send(
        decisionEvent({
          audience: verifier.audience,
          operation: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
          token: request.palisadeToken,
          status: reply.statusCode,
          error: refusalOf(reply.raw),
          traceId: traces.get(request),
        }),
      );
    });
  }
  // The token is checked from the headers alone, before a byte of the body is parsed: an
  // unauthenticated caller never reaches the body parser (and a token sent in a body is refused with it).
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // Only the metadata documents are public; any other path, /.well-known/ or not, needs a token.
    if (isMetadata(request)) return;
    try {
      const token = await verifier.verifyRequest({
        headers: request.headers,
        method: request.method,
        url: request.url,
        traceId: traces.get(request),
      });
      if (!token) return refuse(reply, verifier.audience, undefined, metadata.scopes, { dpopRequired: verifier.dpopRequired });
      request.palisadeToken = token;
    } catch (error) {
      return refuse(reply, verifier.audience, error);
    }
    return undefined;
  });
  // With the header verified, a second copy of a token in the body is still two methods at once (OAuth 2.1 §5.1).
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (isMetadata(request)) return;
    try {
      verifier.presentedToken({ headers: request.headers, url: request.url, body: request.body });
    } catch (error) {
      return refuse(reply, verifier.audience, error);
    }
    return undefined;
  });
  app.setErrorHandler((error, _request, reply) => refuse(reply, verifier.audience, error));
}
