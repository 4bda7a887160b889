import { InvalidClient, InvalidRequest, sha256 } from '@palisade/core';
import type { FastifyInstance } from 'fastify';
import { serving } from '../audit/context.js';
import { authenticateClient } from '../client-auth/authenticate.js';
import { type IdpContext, PATHS } from '../context.js';
import { formBody, readParams } from '../http/params.js';
import { noStore, sendError } from '../http/responses.js';
import { detailsClaim } from '../rar/limits.js';
import type { Client } from '../realm.js';
import type { AccessTokenClaims, Grant, RefreshTokenRecord } from '../tokens/model.js';

const INACTIVE = { active: false } as const;

/** Whether `caller` may learn about a token of `owner` for `audience`: the owner, or the resource server it was meant for. */
function mayIntrospect(ctx: IdpContext, caller: Client, owner: string, audiences: readonly string[]): boolean {
  if (caller.id === owner) return true;
  return audiences.some((aud) => ctx.realm.resourceServers.get(aud)?.clientId === caller.id);
}

/**
 * Token introspection (RFC 7662). Client-authenticated; a token that is
 * expired, revoked, from a revoked grant (e.g. after code reuse), or that the
 * caller has no business seeing introspects as `{ active: false }` (§2.2).
 */
export function introspectionEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.post(PATHS.introspection, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const body = formBody(request);
      const { client } = await authenticateClient(ctx, request, body);
      // RFC 7662 §2.1: introspection requires real client authentication; `none` is none.
      if (client.isPublic) throw InvalidClient('client authentication failed', 'public client at introspection');
      const { token } = readParams(body, ['token', 'token_type_hint']);
      if (token === undefined) throw InvalidRequest('token is required');
      const answer = await introspect(ctx, client, token);
      ctx.audit.record(
        {
          event: 'token.introspected',
          outcome: answer.active === true ? 'success' : 'failure',
          ...(answer.active === true ? {} : { reason: 'inactive' }),
          client: client.id,
          ...(typeof answer.sub === 'string' ? { sub: answer.sub } : {}),
          ...(typeof answer.jti === 'string' ? { jti: answer.jti } : {}),
          data: { active: answer.active === true },
        },
        ctx.request,
      );
      return noStore(reply).send(answer);
    } catch (error) {
      return sendError(reply, error);
    }
  });
}

async function introspect(ctx: IdpContext, caller: Client, token: string): Promise<Record<string, unknown>> {
  const refresh = await ctx.store.find<RefreshTokenRecord>('refresh_token', sha256(token));
  if (refresh) {
    const grant = await ctx.store.find<Grant>('grant', refresh.value.grantId);
    if (refresh.consumedAt !== null || !grant || !mayIntrospect(ctx, caller, refresh.value.clientId, [])) return INACTIVE;
    return {
      active: true,
      token_type: 'refresh_token',
      client_id: refresh.value.clientId,
      sub: grant.value.sub,
      scope: grant.value.scope.join(' '),
      ...detailsClaim(grant.value.authorizationDetails),
      iss: ctx.realm.issuer,
      exp: refresh.expiresAt,
      iat: refresh.createdAt,
    };
  }
  if (!token.includes('.')) return INACTIVE;
  let claims: AccessTokenClaims;
  try {
    claims = await ctx.tokens.verifyAccessToken(token);
  } catch {
    return INACTIVE;
  }
  if (!mayIntrospect(ctx, caller, claims.client_id, [claims.aud].flat())) return INACTIVE;
  // RFC 9449 §6.2: a bound token introspects with its `cnf` and token_type DPoP.
  return { active: true, token_type: claims.cnf ? 'DPoP' : 'Bearer', ...claims };
}
