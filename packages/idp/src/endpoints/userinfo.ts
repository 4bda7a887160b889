import { InsufficientScope, InvalidRequest, InvalidToken, OAuthError } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { type IdpContext, PATHS } from '../context.js';
import { dpopProof } from '../dpop/proof.js';
import { sendBearerError } from '../http/responses.js';

/** The token of a request and the scheme it came with (RFC 6750 §2.1, RFC 9449 §7.1). */
interface PresentedToken {
  readonly token: string;
  readonly scheme: 'Bearer' | 'DPoP';
}

/**
 * The token only in the Authorization header. Tokens in the query or body
 * are refused outright (OAuth 2.1 §5.1, SECURITY M8).
 */
function presentedToken(request: FastifyRequest): PresentedToken | undefined {
  const inQuery = new URLSearchParams(request.url.split('?')[1] ?? '').has('access_token');
  const inBody = request.body instanceof URLSearchParams && request.body.has('access_token');
  if (inQuery || inBody) throw InvalidRequest('access tokens are accepted in the Authorization header only');
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (!match?.[1] || !match[2]) throw InvalidToken('malformed Authorization header');
  return { scheme: match[1].toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2] };
}

/**
 * The UserInfo endpoint (OIDC Core §5.3). Accepts only access tokens whose
 * audience is this IdP, i.e. issued without a `resource`: a token meant for
 * a tool is not a key to the user's profile (RFC 8707, least privilege).
 * A DPoP-bound token is accepted only with a proof by its key (RFC 9449 §7).
 */
export function userinfoEndpoint(app: FastifyInstance, idp: IdpContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = serving(idp, request);
    let scheme: PresentedToken['scheme'] = 'Bearer';
    try {
      const presented = presentedToken(request);
      if (presented === undefined) return sendBearerError(reply, undefined, { offerDpop: true });
      scheme = presented.scheme;
      const claims = await ctx.tokens.verifyAccessToken(presented.token);
      const bound = claims.cnf?.jkt;
      // SECURITY P-1: a bound token sent as Bearer is refused, and so is an unbound one sent as DPoP.
      if ((bound !== undefined) !== (scheme === 'DPoP')) {
        scheme = bound !== undefined ? 'DPoP' : scheme;
        throw InvalidToken(bound !== undefined ? 'the access token is DPoP-bound' : 'the access token is not DPoP-bound');
      }
      if (bound !== undefined) {
        const proof = await dpopProof(ctx, request, reply, ctx.endpoints.userinfo, presented.token);
        if (!proof) throw InvalidToken('a DPoP proof is required');
        if (proof.jkt !== bound) throw InvalidToken('the DPoP proof was made with another key');
      }
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
      if (error instanceof OAuthError) return sendBearerError(reply, error, { scheme });
      throw error;
    }
  };
  app.get(PATHS.userinfo, handler);
  app.post(PATHS.userinfo, handler);
}
