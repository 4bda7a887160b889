import { InsufficientScope, InvalidRequest, InvalidToken, OAuthError } from '@palisade/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type IdpContext, PATHS } from '../context.js';
import { sendBearerError } from '../http/responses.js';

/**
 * RFC 6750 §2.1: the token only in the Authorization header. Tokens in the
 * query or body are refused outright (OAuth 2.1 §5.1, SECURITY M8).
 */
function bearerToken(request: FastifyRequest): string | undefined {
  const inQuery = new URLSearchParams(request.url.split('?')[1] ?? '').has('access_token');
  const inBody = request.body instanceof URLSearchParams && request.body.has('access_token');
  if (inQuery || inBody) throw InvalidRequest('access tokens are accepted in the Authorization header only');
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (!match?.[1]) throw InvalidToken('malformed Authorization header');
  return match[1];
}

/**
 * The UserInfo endpoint (OIDC Core §5.3). Accepts only access tokens whose
 * audience is this IdP, i.e. issued without a `resource`: a token meant for
 * a tool is not a key to the user's profile (RFC 8707, least privilege).
 */
export function userinfoEndpoint(app: FastifyInstance, ctx: IdpContext): void {
  const handler = async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
    try {
      const token = bearerToken(request);
      if (token === undefined) return sendBearerError(reply, undefined);
      const claims = await ctx.tokens.verifyAccessToken(token);
      const audiences = [claims.aud].flat();
      if (!audiences.includes(ctx.realm.issuer)) throw InvalidToken('the access token is not meant for this endpoint');
      const scope = (claims.scope ?? '').split(' ');
      if (!scope.includes('openid')) throw InsufficientScope('the openid scope is required');
      const user = ctx.realm.usersBySub.get(claims.sub);
      if (!user) throw InvalidToken('the subject no longer exists');
      return reply.header('cache-control', 'no-store').send({
        sub: user.sub,
        ...(scope.includes('profile') ? { name: user.name, preferred_username: user.username } : {}),
        ...(scope.includes('email') && user.email ? { email: user.email, email_verified: true } : {}),
      });
    } catch (error) {
      if (error instanceof OAuthError) return sendBearerError(reply, error);
      throw error;
    }
  };
  app.get(PATHS.userinfo, handler);
  app.post(PATHS.userinfo, handler);
}
