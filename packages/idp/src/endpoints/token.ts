import { InvalidDpopProof, InvalidRequest, UnauthorizedClient, UnsupportedGrantType } from '@palisade/core';
import type { FastifyInstance } from 'fastify';
import { contextOf, serving } from '../audit/context.js';
import { authenticateClient } from '../client-auth/authenticate.js';
import { type IdpContext, PATHS } from '../context.js';
import { dpopProof } from '../dpop/proof.js';
import { authorizationCodeGrant } from '../grants/authorization-code.js';
import { cibaGrant } from '../grants/ciba.js';
import { clientCredentialsGrant } from '../grants/client-credentials.js';
import type { GrantHandler } from '../grants/grant.js';
import { refreshTokenGrant } from '../grants/refresh-token.js';
import { tokenExchangeGrant } from '../grants/token-exchange.js';
import { formBody, readParams } from '../http/params.js';
import { noStore, sendError } from '../http/responses.js';

/** Grant types by their wire name. Password and implicit do not exist here (OAuth 2.1 §10, SECURITY T13). */
export const GRANTS: ReadonlyMap<string, GrantHandler> = new Map(
  [authorizationCodeGrant, clientCredentialsGrant, refreshTokenGrant, tokenExchangeGrant, cibaGrant].map((g) => [
    g.grantType,
    g as GrantHandler,
  ]),
);

/** The token endpoint (OAuth 2.1 §3.2): authenticate the client, then hand over to its grant. */
export function tokenEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.post(PATHS.token, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const body = formBody(request);
      const client = (await authenticateClient(ctx, request, body)).client;
      ctx.rateLimits.client(request, client);
      const proof = await dpopProof(ctx, request, reply, ctx.endpoints.token);
      // RFC 9449 §5.2: a client registered for bound tokens never gets a Bearer one.
      if (client.dpopBoundAccessTokens && !proof) throw InvalidDpopProof('this client must send a DPoP proof');
      const { grant_type: grantType } = readParams(body, ['grant_type']);
      if (grantType === undefined) throw InvalidRequest('grant_type is required');
      const grant = GRANTS.get(grantType);
      if (!grant) throw UnsupportedGrantType('the grant type is not supported');
      const context = contextOf(request);
      if (context) context.grantType = grantType;
      if (!client.grantTypes.has(grantType as never)) throw UnauthorizedClient('the client may not use this grant type');
      const params = readParams(body, grant.parameters);
      const response = await grant.handle(ctx, client, params, body, proof);
      return noStore(reply).send(response);
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
