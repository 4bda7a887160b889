import { InvalidClient } from '@palisade/core';
import { type JWTPayload, jwtVerify } from 'jose';
import { DEFAULTS } from '../config/defaults.js';
import type { IdpContext } from '../context.js';
import type { Client } from '../realm.js';
import { unverifiedClaim } from '../tokens/unverified-claim.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric only: HS* would let anyone holding the public key forge (RFC 8725 §3.1); `none` never. */
export const ASSERTION_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
/** Assertions living longer than this are refused, which also bounds the replay cache. */
const MAX_ASSERTION_LIFETIME = 300;

/**
 * private_key_jwt (RFC 7523 §3, OIDC Core §9): the client signs a short JWT
 * with `iss` = `sub` = its client_id, `aud` = this server, a unique `jti`.
 * Each `jti` is accepted once (SECURITY T11), through the store's replay cache
 * so it holds across restarts and nodes.
 */
export async function verifyClientAssertion(
  ctx: IdpContext,
  body: URLSearchParams,
  assertion: string,
  bodyClientId: string | undefined,
): Promise<Client> {
  const fail = (detail: string) => InvalidClient('client authentication failed', detail);
  if (body.get('client_assertion_type') !== JWT_BEARER) throw fail('unsupported client_assertion_type');
  const unverifiedIss = unverifiedClaim(assertion, 'iss');
  const clientId = bodyClientId ?? unverifiedIss;
  const client = clientId === undefined ? undefined : ctx.realm.clients.get(clientId);
  if (!client?.jwks || !client.authMethods.has('private_key_jwt')) throw fail('client not registered for private_key_jwt');

  const now = ctx.clock.now();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, client.jwks, {
      issuer: client.id,
      subject: client.id,
      // draft-ietf-oauth-rfc7523bis §4 (the 2025 audience-injection fix): the issuer identifier only.
      audience: ctx.realm.issuer,
      algorithms: ASSERTION_ALGORITHMS,
      requiredClaims: ['exp', 'jti', 'iss', 'sub', 'aud'],
      currentDate: new Date(now * 1000),
      clockTolerance: DEFAULTS.clockSkew,
    }));
  } catch (error) {
    throw fail(`assertion rejected: ${error instanceof Error ? error.name : 'unknown'}`);
  }
  // A CIBA login_hint_token (which names a user in sub_id) is signed with the same keys: it is not an assertion.
  if (payload.sub_id !== undefined) throw fail('a login_hint_token is not a client assertion');
  // A multi-valued aud could have been minted for another server too; only a single string is ours alone.
  if (typeof payload.aud !== 'string') throw fail('assertion aud must be the issuer as a single string');
  const exp = payload.exp ?? now;
  if (exp - now > MAX_ASSERTION_LIFETIME) throw fail('assertion lifetime too long');
  const fresh = await ctx.store.insert('replay', `client_assertion:${client.id}:${payload.jti}`, {}, { expiresAt: exp + 30 });
  if (!fresh) throw fail('assertion jti replayed');
  return client;
}
