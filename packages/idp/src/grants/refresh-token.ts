import { InvalidGrant, InvalidTarget, sha256 } from '@palisade/core';
import { narrowScope } from '../checks/scope.js';
import { splitScope } from '../http/params.js';
import type { Grant, RefreshTokenRecord } from '../tokens/model.js';
import { revokeGrant } from '../tokens/revoke-grant.js';
import type { GrantHandler } from './grant.js';
import { issueForGrant } from './issue-for-grant.js';

const parameters = ['refresh_token', 'scope', 'resource'] as const;

/**
 * OAuth 2.1 §4.3 with rotation on every use (§4.3.1, RFC 9700 §4.14.2).
 * Presenting a refresh token that was already rotated means two parties hold
 * it: the whole family is revoked, the newest token included (SECURITY R1,
 * R2). The scope may narrow for this access token; the grant keeps its scope (R4).
 */
export const refreshTokenGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: 'refresh_token',
  parameters,
  async handle(ctx, client, params) {
    if (params.refresh_token === undefined) throw InvalidGrant('refresh_token is required');
    const id = sha256(params.refresh_token);
    const found = await ctx.store.find<RefreshTokenRecord>('refresh_token', id);
    if (!found) throw InvalidGrant('the refresh token is invalid, expired or revoked');
    if (found.value.clientId !== client.id) throw InvalidGrant('the refresh token was issued to another client');

    const consumed = await ctx.store.consume<RefreshTokenRecord>('refresh_token', id);
    if (!consumed?.first) {
      await revokeGrant(ctx.store, found.value.grantId);
      throw InvalidGrant('the refresh token was already used');
    }
    const grantRecord = await ctx.store.find<Grant>('grant', found.value.grantId);
    if (!grantRecord) throw InvalidGrant('the grant was revoked');
    const grant = grantRecord.value;
    const scope = narrowScope(grant.scope, splitScope(params.scope));
    if (params.resource !== undefined && params.resource !== grant.resource) {
      throw InvalidTarget('resource was not part of the grant');
    }
    return issueForGrant(ctx, {
      client,
      grantId: found.value.grantId,
      grant,
      grantExpiresAt: grantRecord.expiresAt ?? ctx.clock.now(),
      scope,
    });
  },
};
