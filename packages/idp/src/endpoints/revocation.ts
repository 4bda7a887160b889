import { InvalidRequest, sha256 } from '@palisade/core';
import type { FastifyInstance } from 'fastify';
import { serving } from '../audit/context.js';
import { authenticateClient } from '../client-auth/authenticate.js';
import { type IdpContext, PATHS } from '../context.js';
import { formBody, readParams } from '../http/params.js';
import { noStore, sendError } from '../http/responses.js';
import type { AccessTokenRecord, RefreshTokenRecord } from '../tokens/model.js';
import { revokeGrant } from '../tokens/revoke-grant.js';
import { unverifiedClaim } from '../tokens/unverified-claim.js';

/**
 * Token revocation (RFC 7009). Revoking a refresh token revokes its whole
 * grant, access tokens included (§2.1). A token that is unknown, already
 * invalid, or belongs to another client gets the same 200 and changes
 * nothing (§2.2), so the endpoint is no oracle for other clients' tokens.
 */
export function revocationEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.post(PATHS.revocation, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const body = formBody(request);
      const { client } = await authenticateClient(ctx, request, body);
      const { token } = readParams(body, ['token', 'token_type_hint']);
      if (token === undefined) throw InvalidRequest('token is required');

      const refresh = await ctx.store.find<RefreshTokenRecord>('refresh_token', sha256(token));
      const hint = body.get('token_type_hint') ?? '';
      if (refresh && refresh.value.clientId === client.id) {
        await revokeGrant(ctx.store, refresh.value.grantId);
        ctx.audit.record(
          {
            event: 'token.revoked',
            outcome: 'success',
            client: client.id,
            data: { token_type: 'refresh_token', grant_id: refresh.value.grantId, token_type_hint: hint },
          },
          ctx.request,
        );
      } else if (!refresh) {
        const jti = unverifiedClaim(token, 'jti');
        const record = jti === undefined ? undefined : await ctx.store.find<AccessTokenRecord>('access_token', jti);
        if (record && jti !== undefined && record.value.clientId === client.id) {
          await ctx.store.delete('access_token', jti);
          ctx.audit.record(
            {
              event: 'token.revoked',
              outcome: 'success',
              client: client.id,
              sub: record.value.sub,
              jti,
              data: { token_type: 'access_token', token_type_hint: hint },
            },
            ctx.request,
          );
        }
      }
      return noStore(reply).code(200).send();
    } catch (error) {
      return sendError(reply, error);
    }
  });
}
