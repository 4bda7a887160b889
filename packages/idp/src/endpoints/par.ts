import { InvalidDpopProof, InvalidRequest, randomToken } from '@palisade/core';
import type { FastifyInstance } from 'fastify';
import { serving } from '../audit/context.js';
import { redirectFor, validateAuthorizationRequest } from '../checks/authorization-request.js';
import { authenticateClient } from '../client-auth/authenticate.js';
import { type IdpContext, PATHS } from '../context.js';
import { dpopProof } from '../dpop/proof.js';
import { formBody } from '../http/params.js';
import { noStore, sendError } from '../http/responses.js';
import type { AuthorizationRequest } from '../interactions/model.js';

/** RFC 9126 §2.2: the request_uri is this URN prefix plus an opaque value. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

export interface PushedRequest {
  readonly request: AuthorizationRequest;
}

/**
 * The pushed authorization request endpoint (RFC 9126). The client
 * authenticates and sends the whole authorization request in the back
 * channel; every check of the authorization endpoint runs here, so a bad
 * request never reaches the user. The answer is a one-time `request_uri`
 * with 256 bits of randomness (SECURITY P4), bound to this client (P3).
 */
export function parEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.post(PATHS.par, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const body = formBody(request);
      const { client } = await authenticateClient(ctx, request, body);
      ctx.rateLimits.client(request, client);
      const named = body.getAll('client_id');
      if (named.length > 1 || (named[0] !== undefined && named[0] !== client.id)) {
        throw InvalidRequest('client_id does not match the authenticated client');
      }
      const target = redirectFor(client, body);
      if (typeof target === 'string') throw InvalidRequest('redirect_uri is missing or not registered for this client');
      const validated = validateAuthorizationRequest(ctx, client, target.redirectUri, body, 'pushed');
      // RFC 9449 §10.1: a proof at PAR binds the code like dpop_jkt; when both are sent they must name the same key.
      const proof = await dpopProof(ctx, request, reply, ctx.endpoints.par);
      if (proof && validated.dpopJkt !== undefined && proof.jkt !== validated.dpopJkt) {
        throw InvalidDpopProof('dpop_jkt does not match the key of the DPoP proof');
      }
      const pushed: PushedRequest = { request: proof ? { ...validated, dpopJkt: proof.jkt } : validated };
      const handle = randomToken(32);
      const lifetime = ctx.realm.config.par.lifetime;
      await ctx.store.insert('pushed_request', handle, pushed, { expiresAt: ctx.clock.now() + lifetime });
      ctx.audit.record(
        {
          event: 'par.pushed',
          outcome: 'success',
          client: client.id,
          ...(pushed.request.authorizationDetails ? { authorization_details: pushed.request.authorizationDetails } : {}),
          data: { scope: pushed.request.scope.join(' ') },
        },
        ctx.request,
      );
      return noStore(reply)
        .code(201)
        .send({ request_uri: REQUEST_URI_PREFIX + handle, expires_in: lifetime });
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
