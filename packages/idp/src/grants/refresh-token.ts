import { InvalidGrant, InvalidRequest, InvalidTarget, sha256 } from '@palisade/core';
import { narrowDetails } from '../checks/authorization-details.js';
import { narrowScope } from '../checks/scope.js';
import type { IdpContext } from '../context.js';
import { requireSameKey } from '../dpop/proof.js';
import { splitScope } from '../http/params.js';
import type { Grant, RefreshTokenRecord } from '../tokens/model.js';
import { revokeGrant } from '../tokens/revoke-grant.js';
import type { GrantHandler } from './grant.js';
import { issueForGrant } from './issue-for-grant.js';

const parameters = ['refresh_token', 'scope', 'authorization_details'] as const;

/**
 * OAuth 2.1 §4.3 with rotation on every use (§4.3.1, RFC 9700 §4.14.2).
 * Presenting a refresh token that was already rotated means two parties hold
 * it: the whole family is revoked, the newest token included (SECURITY R1,
 * R2). The scope may narrow for this access token; the grant keeps its scope (R4).
 */
export const refreshTokenGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: 'refresh_token',
  parameters,
  async handle(ctx, client, params, body, proof) {
    // RFC 6749 §5.2: a missing required parameter is invalid_request.
    if (params.refresh_token === undefined) throw InvalidRequest('refresh_token is required');
    const id = sha256(params.refresh_token);
    const found = await ctx.store.find<RefreshTokenRecord>('refresh_token', id);
    if (!found) throw InvalidGrant('the refresh token is invalid, expired or revoked');
    if (found.value.clientId !== client.id) throw InvalidGrant('the refresh token was issued to another client');
    // RFC 9449 §5: a refresh token bound to a key (public clients) needs a proof by that key; a thief without it changes nothing.
    requireSameKey(found.value.jkt, proof, 'refresh token');
    if (found.consumedAt !== null) return replayed(ctx, found.value.grantId);
    const grantRecord = await ctx.store.find<Grant>('grant', found.value.grantId);
    if (!grantRecord) throw InvalidGrant('the grant was revoked');
    const grant = grantRecord.value;
    // Validated before consuming: a refused request must not rotate the token
    // away, or the client's retry would look like reuse and revoke the family.
    const scope = narrowScope(grant.scope, splitScope(params.scope));
    // RFC 8707 §2.2: the token request may only repeat the authorized resource.
    const resource = body.getAll('resource').filter((value) => value !== '');
    if (resource.length > 1 || (resource[0] !== undefined && resource[0] !== grant.resource)) {
      throw InvalidTarget('resource was not part of the grant');
    }
    const authorizationDetails = narrowDetails(ctx, client, grant.authorizationDetails, params.authorization_details);

    const consumed = await ctx.store.consume<RefreshTokenRecord>('refresh_token', id);
    if (!consumed?.first) return replayed(ctx, found.value.grantId);
    return issueForGrant(ctx, {
      client,
      grantId: found.value.grantId,
      grant,
      grantExpiresAt: grantRecord.expiresAt ?? ctx.clock.now(),
      scope,
      authorizationDetails,
      jkt: proof?.jkt,
    });
  },
};

/** A rotated refresh token came back: two parties hold it, so the whole family goes (RFC 9700 §4.14.2). */
async function replayed(ctx: IdpContext, grantId: string): Promise<never> {
  await revokeGrant(ctx.store, grantId);
  ctx.audit.record(
    { event: 'refresh_token.reused', outcome: 'failure', reason: 'refresh_token_reuse', data: { grant_id: grantId } },
    ctx.request,
  );
  ctx.audit.record(
    { event: 'grant.revoked', outcome: 'success', reason: 'reuse', data: { grant_id: grantId, cause: 'reuse' } },
    ctx.request,
  );
  throw InvalidGrant('the refresh token was already used');
}
