import { InvalidScope } from '@palisade/core';
import { audienceFor, checkResource } from '../checks/resource.js';
import { checkScope, checkScopeAudience, scopesForAudience } from '../checks/scope.js';
import { splitScope } from '../http/params.js';
import { detailsClaim, parseAuthorizationDetails } from '../rar/limits.js';
import type { GrantHandler } from './grant.js';

const parameters = ['scope', 'authorization_details'] as const;
/** Scopes that only mean something when a person is present. */
const USER_ONLY_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

/**
 * OAuth 2.1 §4.2: an autonomous agent gets a token in its own name
 * (`sub` = its client_id). No refresh token (§4.2.3); scope limited to what
 * the client is registered for (SECURITY T14).
 */
export const clientCredentialsGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: 'client_credentials',
  parameters,
  async handle(ctx, client, params, body, proof) {
    const requested = splitScope(params.scope);
    if (requested.some((scope) => USER_ONLY_SCOPES.has(scope))) {
      throw InvalidScope('user scopes cannot be granted to client_credentials');
    }
    const resource = checkResource(ctx.realm, client, body.getAll('resource'));
    const audience = audienceFor(ctx.realm, client, resource);
    // Named scopes must fit the audience; default scopes are only those that do (RFC 6749 §3.3).
    const scope = requested.length > 0 ? checkScope(client, requested) : scopesForAudience(ctx.realm, client.defaultScopes, audience);
    checkScopeAudience(ctx.realm, scope, audience);
    const parsed = parseAuthorizationDetails(params.authorization_details);
    const authorizationDetails = parsed && ctx.realm.detailTypes.validate(parsed, client);
    // No user here: only rules naming this client (or naming nobody) can grant (RFC 9396 §6).
    if (authorizationDetails) ctx.realm.detailPolicy.check(authorizationDetails, client, undefined);
    const access = await ctx.tokens.accessToken({
      served: ctx.request,
      client,
      sub: client.id,
      audience,
      scope,
      grantId: null,
      authorizationDetails,
      jkt: proof?.jkt,
    });
    return {
      access_token: access.token,
      token_type: proof ? 'DPoP' : 'Bearer',
      expires_in: access.expiresIn,
      ...(scope.length > 0 ? { scope: scope.join(' ') } : {}),
      ...detailsClaim(authorizationDetails),
    };
  },
};
