import { createHash } from 'node:crypto';
import { type AuthorizationDetail, type Clock, InvalidToken, randomToken, sha256 } from '@palisade/core';
import type { Store } from '@palisade/store';
import { compactVerify, createLocalJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { SigningAlgorithm } from '../config/schema.js';
import type { Keystore } from '../keys/keystore.js';
import { detailsClaim } from '../rar/limits.js';
import type { Client, User } from '../realm.js';
import type { AccessTokenClaims, AccessTokenRecord, Grant, RefreshTokenRecord } from './model.js';

export interface Lifetimes {
  readonly accessToken: number;
  readonly idToken: number;
  readonly refreshToken: number;
  readonly refreshTokenIdle: number;
}

export interface AccessTokenRequest {
  readonly client: Client;
  readonly sub: string;
  readonly audience: string;
  readonly scope: readonly string[];
  readonly grantId: string | null;
  /** Present when a person authenticated (RFC 9068 §2.2.1). */
  readonly authentication?: { readonly authTime: number; readonly acr: string; readonly amr: readonly string[] };
  /** RFC 9396 §9.1: the details go into the JWT as the `authorization_details` claim. */
  readonly authorizationDetails?: readonly AuthorizationDetail[] | undefined;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresIn: number;
}

/**
 * OpenID Connect Core §3.1.3.6: the left half of the hash of the ASCII value,
 * with the hash of the signing algorithm (SHA-512 for Ed25519, as the OpenID
 * conformance suite and oauth4webapi expect).
 */
function halfHash(value: string, alg: SigningAlgorithm): string {
  const digest = alg === 'EdDSA' ? 'sha512' : alg === 'ES384' ? 'sha384' : 'sha256';
  const full = createHash(digest).update(value).digest();
  return full.subarray(0, full.length / 2).toString('base64url');
}

/**
 * Mints and checks every token the IdP issues: JWT access tokens (RFC 9068),
 * ID tokens (OIDC Core §2) and opaque refresh tokens. Every access token gets
 * a store record keyed by `jti`, so revocation and grant-family revocation
 * make it introspect as inactive at once.
 */
export class TokenIssuer {
  readonly #issuer: string;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #keystore: Keystore;
  readonly #lifetimes: Lifetimes;
  readonly #accessTokenAlg: SigningAlgorithm;
  #verificationKeys: JWTVerifyGetKey;
  #verificationJwks: unknown;

  constructor(issuer: string, store: Store, clock: Clock, keystore: Keystore, lifetimes: Lifetimes, accessTokenAlg: SigningAlgorithm) {
    this.#issuer = issuer;
    this.#store = store;
    this.#clock = clock;
    this.#keystore = keystore;
    this.#lifetimes = lifetimes;
    this.#accessTokenAlg = accessTokenAlg;
    this.#verificationJwks = keystore.jwks;
    this.#verificationKeys = createLocalJWKSet(keystore.jwks);
  }

  get lifetimes(): Lifetimes {
    return this.#lifetimes;
  }

  async accessToken(request: AccessTokenRequest): Promise<IssuedAccessToken> {
    const now = this.#clock.now();
    const jti = randomToken(16);
    const exp = now + this.#lifetimes.accessToken;
    const { kid, alg, key } = this.#keystore.signingKey(this.#accessTokenAlg);
    const claims: Omit<AccessTokenClaims, 'iss' | 'sub' | 'aud' | 'jti' | 'iat' | 'exp'> = {
      client_id: request.client.id,
      ...(request.scope.length > 0 ? { scope: request.scope.join(' ') } : {}),
      ...(request.authentication
        ? { auth_time: request.authentication.authTime, acr: request.authentication.acr, amr: [...request.authentication.amr] }
        : {}),
      ...detailsClaim(request.authorizationDetails),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .setIssuer(this.#issuer)
      .setSubject(request.sub)
      .setAudience(request.audience)
      .setJti(jti)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(key);
    const record: AccessTokenRecord = { clientId: request.client.id, sub: request.sub, grantId: request.grantId };
    await this.#store.insert('access_token', jti, record, {
      expiresAt: exp,
      ...(request.grantId ? { grantId: request.grantId } : {}),
    });
    return { token, jti, expiresIn: this.#lifetimes.accessToken };
  }

  async idToken(input: { client: Client; user: User; grant: Grant; nonce: string | undefined; accessToken: string }): Promise<string> {
    const now = this.#clock.now();
    const { kid, alg, key } = this.#keystore.signingKey(input.client.idTokenAlg);
    return new SignJWT({
      auth_time: input.grant.authTime,
      acr: input.grant.acr,
      amr: [...input.grant.amr],
      azp: input.client.id,
      at_hash: halfHash(input.accessToken, alg),
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.grant.sessionId ? { sid: input.grant.sessionId } : {}),
    })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(this.#issuer)
      .setSubject(input.user.sub)
      .setAudience(input.client.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.#lifetimes.idToken)
      .sign(key);
  }

  /** A new opaque refresh token of a grant; expires when idle, never after the grant. */
  async refreshToken(grantId: string, clientId: string, grantExpiresAt: number): Promise<string> {
    const token = randomToken(32);
    const record: RefreshTokenRecord = { grantId, clientId };
    const expiresAt = Math.min(grantExpiresAt, this.#clock.now() + this.#lifetimes.refreshTokenIdle);
    await this.#store.insert('refresh_token', sha256(token), record, { expiresAt, grantId });
    return token;
  }

  /**
   * Verifies a Palisade access token: signature by one of our keys with the
   * algorithm the key declares, `typ: at+jwt` (RFC 9068 §4, so an ID token is
   * never taken for one), issuer, lifetime, and that it was not revoked.
   */
  async verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    this.#refreshVerificationKeys();
    let claims: AccessTokenClaims;
    try {
      const verified = await jwtVerify<AccessTokenClaims>(token, this.#verificationKeys, {
        issuer: this.#issuer,
        typ: 'at+jwt',
        currentDate: new Date(this.#clock.now() * 1000),
        requiredClaims: ['sub', 'aud', 'jti', 'exp', 'iat', 'client_id'],
      });
      claims = verified.payload;
    } catch (error) {
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'malformed';
      throw InvalidToken('the access token is invalid', reason);
    }
    const record = await this.#store.find<AccessTokenRecord>('access_token', claims.jti);
    if (!record) throw InvalidToken('the access token is invalid', 'revoked or unknown jti');
    // A token written while its grant was being revoked (racing code reuse or
    // refresh replay) outlives the family delete; the grant decides (OAuth 2.1 §4.1.3).
    if (record.value.grantId !== null && !(await this.#store.find('grant', record.value.grantId))) {
      throw InvalidToken('the access token is invalid', 'grant revoked');
    }
    return claims;
  }

  /**
   * The client (`aud`) of an ID token this IdP signed, or undefined. Expiry
   * is not checked: OIDC RP-Initiated Logout §2 accepts expired hints.
   */
  async idTokenAudience(token: string): Promise<string | undefined> {
    this.#refreshVerificationKeys();
    try {
      const { payload } = await compactVerify(token, this.#verificationKeys);
      const claims = JSON.parse(new TextDecoder().decode(payload)) as { iss?: unknown; aud?: unknown };
      if (claims.iss !== this.#issuer) return undefined;
      const aud = [claims.aud].flat();
      return aud.length === 1 && typeof aud[0] === 'string' ? aud[0] : undefined;
    } catch {
      return undefined;
    }
  }

  #refreshVerificationKeys(): void {
    if (this.#verificationJwks !== this.#keystore.jwks) {
      this.#verificationJwks = this.#keystore.jwks;
      this.#verificationKeys = createLocalJWKSet(this.#keystore.jwks);
    }
  }
}
