import { InvalidGrant, InvalidRequest, InvalidTarget, sha256 } from '@palisade/core';
import { narrowDetails } from '../checks/authorization-details.js';
import { checkCodeVerifier } from '../checks/pkce.js';
import type { IdpContext } from '../context.js';
import { requireSameKey } from '../dpop/proof.js';
import type { AuthorizationCodeRecord, Grant } from '../tokens/model.js';
import { revokeGrant } from '../tokens/revoke-grant.js';
import type { GrantHandler } from './grant.js';
import { issueForGrant } from './issue-for-grant.js';

const parameters = ['code', 'redirect_uri', 'code_verifier', 'authorization_details'] as const;

/**
 * OAuth 2.1 §4.1.3. Every check that proves the caller holds the code
 * legitimately (client, PKCE verifier, redirect URI) runs before the code is
 * consumed, so a replay by someone without the verifier cannot revoke the
 * victim's tokens (SECURITY T2). A second legitimate redemption revokes the
 * whole grant, tokens included (SECURITY T1); of two racing redemptions
 * exactly one wins (T3), through the store's atomic consume.
 */
export const authorizationCodeGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: 'authorization_code',
  parameters,
  async handle(ctx, client, params, body, proof) {
    // RFC 6749 §5.2: a missing required parameter is invalid_request.
    if (params.code === undefined) throw InvalidRequest('code is required');
    const id = sha256(params.code);
    const found = await ctx.store.find<AuthorizationCodeRecord>('authorization_code', id);
    if (!found) throw InvalidGrant('the code is invalid or expired');
    const code = found.value;
    if (code.clientId !== client.id) throw InvalidGrant('the code was issued to another client');
    checkCodeVerifier(params.code_verifier, code.codeChallenge);
    if (code.redirectUri !== null && params.redirect_uri !== code.redirectUri) {
      throw InvalidGrant('redirect_uri does not match the authorization request');
    }
    // RFC 9449 §10 (SECURITY P-6): a code bound to a key at PAR or /authorize is redeemed with that key only.
    requireSameKey(code.dpopJkt, proof, 'code');
    if (found.consumedAt !== null) return reused(ctx, code.grantId);
    const grantRecord = await ctx.store.find<Grant>('grant', code.grantId);
    if (!grantRecord) throw InvalidGrant('the grant was revoked');
    const grant = grantRecord.value;
    // RFC 8707 §2.2: the token request may only repeat the authorized resource.
    // Checked before consuming, so a refused request does not burn the code.
    const resource = body.getAll('resource').filter((value) => value !== '');
    if (resource.length > 1 || (resource[0] !== undefined && resource[0] !== grant.resource)) {
      throw InvalidTarget('resource was not part of the authorization request');
    }
    const authorizationDetails = narrowDetails(ctx, client, grant.authorizationDetails, params.authorization_details);

    const consumed = await ctx.store.consume<AuthorizationCodeRecord>('authorization_code', id);
    if (!consumed?.first) return reused(ctx, code.grantId);
    return issueForGrant(ctx, {
      client,
      grantId: code.grantId,
      grant,
      grantExpiresAt: grantRecord.expiresAt ?? ctx.clock.now(),
      scope: grant.scope,
      authorizationDetails,
      nonce: code.nonce,
      jkt: proof?.jkt,
    });
  },
};

/** OAuth 2.1 §4.1.3: a second redemption revokes every token already issued from this code. */
async function reused(ctx: IdpContext, grantId: string): Promise<never> {
  await revokeGrant(ctx.store, grantId);
  ctx.audit.record(
    { event: 'authorization_code.reused', outcome: 'failure', reason: 'code_reuse', data: { grant_id: grantId } },
    ctx.request,
  );
  ctx.audit.record(
    { event: 'grant.revoked', outcome: 'success', reason: 'reuse', data: { grant_id: grantId, cause: 'reuse' } },
    ctx.request,
  );
  throw InvalidGrant('the code was already used');
}
