import { type AuthorizationDetail, InvalidRequest, OAuthError } from '@palisade/core';
import { TOKEN_TYPES } from '../config/schema.js';
import type { IdpContext } from '../context.js';
import type { Client } from '../realm.js';
import { type Actor, readActor } from '../tokens/act.js';
import { sessionLinks } from '../tokens/grant-links.js';
import type { Grant } from '../tokens/model.js';

/** What token exchange needs to know about the subject token, whatever its type. */
export interface Subject {
  readonly sub: string;
  readonly audiences: readonly string[];
  /** The client the subject token was issued to (the agent, for a user's token). */
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly authorizationDetails: readonly AuthorizationDetail[];
  readonly act: Actor | undefined;
  readonly mayAct: string | undefined;
  readonly exp: number;
  readonly authTime: number | undefined;
  readonly acr: string | undefined;
  readonly amr: readonly string[] | undefined;
  /** The grant of the subject token: exchanged tokens hang off it, so revoking it revokes the chain. */
  readonly grantId: string | null;
  readonly jti: string | undefined;
}

/** The grant this client holds for this user in the ID token's SSO session (`sid`), if it is still alive. */
async function liveGrantOfSession(ctx: IdpContext, sid: string | undefined, sub: string, clientId: string): Promise<string | undefined> {
  if (sid === undefined) return undefined;
  for (const link of await ctx.store.list<{ grantId: string }>('grant_link', sessionLinks(sid))) {
    const grant = await ctx.store.find<Grant>('grant', link.value.grantId);
    if (grant && grant.value.sub === sub && grant.value.clientId === clientId) return link.value.grantId;
  }
  return undefined;
}

/** Any failure reading a subject or actor token is `invalid_request` (RFC 8693 §2.2.2), never a hint which check failed. */
function refuse(what: string, detail: unknown): OAuthError {
  const reason = detail instanceof OAuthError ? detail.detail : detail instanceof Error ? detail.message : String(detail);
  return InvalidRequest(`the ${what} is invalid, expired, revoked or of another type`, reason);
}

/**
 * Reads and verifies the subject token (RFC 8693 §2.1): one of Palisade's own
 * access tokens (`access_token` or `jwt` type: signature, `at+jwt`, issuer,
 * expiry, not revoked, grant alive) or an ID token issued to this very client.
 * SECURITY X2.
 */
export async function readSubject(ctx: IdpContext, client: Client, token: string, type: string): Promise<Subject> {
  try {
    if (type === TOKEN_TYPES.access_token || type === TOKEN_TYPES.jwt) {
      const { claims, grantId } = await ctx.tokens.inspectAccessToken(token);
      const mayAct = (claims.may_act as { sub?: unknown } | undefined)?.sub;
      return {
        sub: claims.sub,
        audiences: [claims.aud].flat(),
        clientId: claims.client_id,
        scope: claims.scope ? claims.scope.split(' ') : [],
        authorizationDetails: claims.authorization_details ?? [],
        act: readActor(claims.act),
        mayAct: typeof mayAct === 'string' ? mayAct : undefined,
        exp: claims.exp,
        authTime: claims.auth_time,
        acr: claims.acr,
        amr: claims.amr,
        grantId,
        jti: claims.jti,
      };
    }
    if (type === TOKEN_TYPES.id_token) {
      const idToken = await ctx.tokens.verifyIdToken(token);
      // An ID token is addressed to a client: only that client may exchange it.
      if (!idToken.aud.includes(client.id)) throw new TypeError('ID token issued to another client');
      // Its grant must still be alive (not logged out, withdrawn or revoked); derived tokens hang off it.
      const grantId = await liveGrantOfSession(ctx, idToken.sid, idToken.sub, client.id);
      if (!grantId) throw new TypeError('the session or grant of the ID token has ended');
      return {
        sub: idToken.sub,
        audiences: idToken.aud,
        clientId: client.id,
        scope: [],
        authorizationDetails: [],
        act: undefined,
        mayAct: undefined,
        exp: idToken.exp,
        authTime: idToken.authTime,
        acr: idToken.acr,
        amr: idToken.amr,
        grantId,
        jti: undefined,
      };
    }
  } catch (error) {
    throw refuse('subject_token', error);
  }
  throw InvalidRequest('subject_token_type is not supported');
}

/**
 * The actor token, when sent (RFC 8693 §2.1): the exchanging client proving
 * it is the actor with its own access token for this IdP. Its subject must be
 * the authenticated client (SECURITY X7).
 */
export async function readActorToken(
  ctx: IdpContext,
  client: Client,
  token: string,
  type: string,
  proofKey: string | undefined,
): Promise<void> {
  if (type !== TOKEN_TYPES.access_token && type !== TOKEN_TYPES.jwt) throw InvalidRequest('actor_token_type is not supported');
  let claims: Awaited<ReturnType<typeof ctx.tokens.verifyAccessToken>>;
  try {
    claims = await ctx.tokens.verifyAccessToken(token);
  } catch (error) {
    throw refuse('actor_token', error);
  }
  if (claims.sub !== client.id || claims.client_id !== client.id) {
    throw InvalidRequest("the actor_token must be the authenticated client's own token");
  }
  if (![claims.aud].flat().includes(ctx.realm.issuer)) throw InvalidRequest('the actor_token must be meant for this authorization server');
  // A DPoP-bound actor token proves the actor only together with its key (RFC 9449 §6): a copied one is useless.
  if (claims.cnf?.jkt !== undefined && claims.cnf.jkt !== proofKey) {
    throw InvalidRequest('the actor_token is DPoP-bound: send a proof made with its key');
  }
}
