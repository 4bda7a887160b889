import type { AuthorizationDetail } from '@palisade/core';
import { audienceFor } from '../checks/resource.js';
import type { IdpContext } from '../context.js';
import { detailsClaim } from '../rar/limits.js';
import type { Client } from '../realm.js';
import type { Grant, TokenResponse } from '../tokens/model.js';

/**
 * The token response for a user grant (authorization code, refresh): an
 * access token for the grant's resource, an ID token when `openid` was
 * granted, and a rotated refresh token when the client may refresh.
 */
export async function issueForGrant(
  ctx: IdpContext,
  input: {
    client: Client;
    grantId: string;
    grant: Grant;
    grantExpiresAt: number;
    scope: readonly string[];
    authorizationDetails: readonly AuthorizationDetail[] | undefined;
    nonce?: string | undefined;
    /** CIBA push (§10.3.1): the ID token names the request and hashes the refresh token too. */
    pushedFor?: string | undefined;
    /** RFC 9449: the DPoP key the tokens are bound to. */
    jkt?: string | undefined;
  },
): Promise<TokenResponse> {
  const { client, grant, grantId, scope, authorizationDetails } = input;
  const access = await ctx.tokens.accessToken({
    served: ctx.request,
    client,
    sub: grant.sub,
    audience: audienceFor(ctx.realm, client, grant.resource),
    scope,
    grantId,
    authentication: { authTime: grant.authTime, acr: grant.acr, amr: grant.amr },
    authorizationDetails,
    act: grant.act,
    jkt: input.jkt,
  });
  const response: TokenResponse = {
    access_token: access.token,
    token_type: input.jkt ? 'DPoP' : 'Bearer',
    expires_in: access.expiresIn,
    scope: scope.join(' '),
    // RFC 9396 §7: the token response says which details the token carries.
    ...detailsClaim(authorizationDetails),
  };
  if (client.grantTypes.has('refresh_token')) {
    // RFC 9449 §5: a public client's refresh token is bound to its key; a confidential client's is bound by its authentication.
    const bindRefresh = client.isPublic ? input.jkt : undefined;
    response.refresh_token = await ctx.tokens.refreshToken(grantId, client.id, input.grantExpiresAt, bindRefresh);
  }
  const user = ctx.realm.usersBySub.get(grant.sub);
  if (scope.includes('openid') && user) {
    response.id_token = await ctx.tokens.idToken({
      client,
      user,
      grant,
      nonce: input.nonce,
      accessToken: access.token,
      ...(input.pushedFor ? { authReqId: input.pushedFor, refreshToken: response.refresh_token } : {}),
    });
  }
  return response;
}
