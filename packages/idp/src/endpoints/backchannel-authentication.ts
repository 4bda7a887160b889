import type { FastifyInstance } from 'fastify';
import { serving } from '../audit/context.js';
import { startBackchannelAuthentication } from '../ciba/authentication-request.js';
import { expire } from '../ciba/decide.js';
import { authenticateClient } from '../client-auth/authenticate.js';
import { type IdpContext, PATHS } from '../context.js';
import { dpopProof } from '../dpop/proof.js';
import { formBody } from '../http/params.js';
import { noStore, sendError } from '../http/responses.js';

/**
 * The backchannel authentication endpoint (OpenID Connect CIBA Core 1.0 §7):
 * an authenticated client asks for a user's approval without a browser. The
 * request appears on the user's authentication device at once; the client
 * gets the auth_req_id to poll with, or waits for a ping or push.
 */
export function backchannelAuthenticationEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.post(PATHS.backchannelAuthentication, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const body = formBody(request);
      const { client } = await authenticateClient(ctx, request, body);
      ctx.rateLimits.client(request, client);
      // A proof here binds the tokens of this request to its key, whichever way they are delivered (ADR 0010).
      const proof = await dpopProof(ctx, request, reply, ctx.endpoints.backchannelAuthentication);
      const started = await startBackchannelAuthentication(ctx, client, body, proof?.jkt);
      const { rid, sub, expiresAt } = started.request;
      ctx.log.info({ event: 'ciba.requested', client: client.id, request: rid, mode: client.deliveryMode }, 'CIBA request');
      ctx.audit.record(
        {
          event: 'ciba.requested',
          outcome: 'success',
          sub,
          client: client.id,
          ...(started.request.authorizationDetails ? { authorization_details: started.request.authorizationDetails } : {}),
          data: {
            request: rid,
            mode: client.deliveryMode ?? 'poll',
            scope: started.request.scope.join(' '),
            ...(started.request.bindingMessage ? { binding_message: started.request.bindingMessage } : {}),
          },
        },
        ctx.request,
      );
      ctx.backchannel.changed(sub);
      // Expire on time, so ping and push clients hear of it; the sweep catches what a restart lost.
      ctx.backchannel.later(expiresAt - ctx.clock.now() + 1, async () => {
        await expire(ctx, started.request).catch((error: unknown) => ctx.log.error({ err: String(error) }, 'CIBA expiry failed'));
      });
      return noStore(reply).send(started.response);
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
