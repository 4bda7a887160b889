import { randomToken, sha256 } from '@palisade/core';
import type { IdpContext } from '../context.js';
import { createGrant } from '../tokens/create-grant.js';
import type { AuthorizationCodeRecord, Grant } from '../tokens/model.js';
import type { AuthorizationRequest, Session } from './model.js';

/**
 * Creates the grant and its one-time authorization code (OAuth 2.1 §4.1.2).
 * The grant lives as long as its refresh tokens may; every token issued from
 * the code carries the grant id, so revoking the grant revokes them all.
 */
export async function issueAuthorizationCode(ctx: IdpContext, request: AuthorizationRequest, session: Session): Promise<string> {
  const { lifetimes } = ctx.realm.config;
  const client = ctx.realm.clients.get(request.clientId);
  const now = ctx.clock.now();
  const grantId = randomToken(16);
  const grant: Grant = {
    clientId: request.clientId,
    sub: session.sub,
    scope: request.scope,
    resource: request.resource,
    authTime: session.authTime,
    acr: session.acr,
    amr: session.amr,
    sessionId: session.sid,
    ...(request.authorizationDetails ? { authorizationDetails: request.authorizationDetails } : {}),
  };
  const grantLifetime = client?.grantTypes.has('refresh_token')
    ? lifetimes.refresh_token
    : lifetimes.authorization_code + lifetimes.access_token;
  await createGrant(ctx, grantId, grant, grantLifetime);

  const code = randomToken(32);
  const record: AuthorizationCodeRecord = {
    grantId,
    clientId: request.clientId,
    redirectUri: request.redirectUriSent ? request.redirectUri : null,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
    ...(request.dpopJkt ? { dpopJkt: request.dpopJkt } : {}),
  };
  await ctx.store.insert('authorization_code', sha256(code), record, { expiresAt: now + lifetimes.authorization_code, grantId });
  ctx.audit.record(
    {
      event: 'authorization_code.issued',
      outcome: 'success',
      sub: session.sub,
      client: request.clientId,
      ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
      data: { grant_id: grantId, scope: request.scope.join(' ') },
    },
    ctx.request,
  );
  return code;
}
