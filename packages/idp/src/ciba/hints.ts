import { ExpiredLoginHintToken, InvalidRequest, UnknownUserId } from '@palisade/core';
import { type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { ASSERTION_ALGORITHMS } from '../client-auth/private-key-jwt.js';
import { DEFAULTS } from '../config/defaults.js';
import type { IdpContext } from '../context.js';
import type { Client, User } from '../realm.js';

/** A login_hint_token living longer than this is refused. */
const MAX_HINT_LIFETIME = 600;

export interface Hints {
  readonly login_hint?: string | undefined;
  readonly id_token_hint?: string | undefined;
  readonly login_hint_token?: string | undefined;
}

/**
 * CIBA §7.1: the user a backchannel request is for, from exactly one hint.
 * - `login_hint`: a username, or an email address (case-insensitive).
 * - `id_token_hint`: an ID token this IdP issued to this client (expired ones
 *   included: the hint only identifies; the user still approves on the device).
 * - `login_hint_token`: a JWT the client signs with a key from its registered
 *   `jwks`: `iss` = client_id, `aud` = the issuer, `exp` (at most ten minutes
 *   ahead), no `sub`, and `sub_id` as an RFC 9493 subject identifier in the
 *   `email`, `opaque` (the user's sub) or `iss_sub` (this issuer) format.
 * Any hint that names nobody is `unknown_user_id` (CIBA §13).
 */
export async function resolveHint(ctx: IdpContext, client: Client, hints: Hints): Promise<User> {
  const given = [hints.login_hint, hints.id_token_hint, hints.login_hint_token].filter((h) => h !== undefined);
  if (given.length !== 1) throw InvalidRequest('send exactly one of login_hint, id_token_hint and login_hint_token');
  if (hints.login_hint !== undefined) return byLoginHint(ctx, hints.login_hint);
  if (hints.id_token_hint !== undefined) return byIdTokenHint(ctx, client, hints.id_token_hint);
  return byLoginHintToken(ctx, client, hints.login_hint_token as string);
}

function known(user: User | undefined): User {
  if (!user) throw UnknownUserId('the hint does not name a known user');
  return user;
}

function byLoginHint(ctx: IdpContext, hint: string): User {
  if (hint.length > 256) throw InvalidRequest('login_hint is too long');
  return known(ctx.realm.usersByName.get(hint) ?? ctx.realm.usersByEmail.get(hint.toLowerCase()));
}

async function byIdTokenHint(ctx: IdpContext, client: Client, token: string): Promise<User> {
  const hinted = await ctx.tokens.idTokenHint(token);
  if (!hinted) throw InvalidRequest('id_token_hint is not an ID token issued by this server');
  if (hinted.client !== client.id) throw InvalidRequest('id_token_hint was issued to another client');
  return known(ctx.realm.usersBySub.get(hinted.sub));
}

async function byLoginHintToken(ctx: IdpContext, client: Client, token: string): Promise<User> {
  if (!client.jwks) throw InvalidRequest('login_hint_token needs a key registered for this client (jwks)');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, client.jwks, {
      issuer: client.id,
      audience: ctx.realm.issuer,
      algorithms: ASSERTION_ALGORITHMS,
      requiredClaims: ['exp', 'sub_id'],
      currentDate: new Date(ctx.clock.now() * 1000),
      clockTolerance: DEFAULTS.clockSkew,
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw ExpiredLoginHintToken('the login_hint_token has expired');
    throw InvalidRequest('login_hint_token is not a valid JWT signed by this client');
  }
  // Signed with the same keys as the client's assertions: never let one pass for the other (RFC 8725 §3.11).
  // A hint names its user in sub_id, so a `sub` (which an assertion must have) is refused, and it is short-lived.
  if (payload.sub !== undefined) throw InvalidRequest('login_hint_token must not carry sub; use sub_id');
  if ((payload.exp ?? 0) - ctx.clock.now() > MAX_HINT_LIFETIME) {
    throw InvalidRequest(`login_hint_token must expire within ${MAX_HINT_LIFETIME} seconds`);
  }
  const subject = payload.sub_id as { format?: unknown; email?: unknown; id?: unknown; iss?: unknown; sub?: unknown };
  if (typeof subject !== 'object' || subject === null) throw InvalidRequest('login_hint_token sub_id must be an object');
  switch (subject.format) {
    case 'email':
      if (typeof subject.email !== 'string') break;
      return known(ctx.realm.usersByEmail.get(subject.email.toLowerCase()));
    case 'opaque':
      if (typeof subject.id !== 'string') break;
      return known(ctx.realm.usersBySub.get(subject.id));
    case 'iss_sub':
      if (typeof subject.sub !== 'string' || subject.iss !== ctx.realm.issuer) break;
      return known(ctx.realm.usersBySub.get(subject.sub));
  }
  throw InvalidRequest('login_hint_token sub_id must use the email, opaque or iss_sub format (RFC 9493)');
}
