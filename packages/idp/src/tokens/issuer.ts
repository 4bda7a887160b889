import { createHash } from 'node:crypto';
import { type AuthorizationDetail, type Clock, digestEqual, InvalidToken, randomToken, sha256, timeOrderedId } from '@palisade/core';
import type { Store, StoredRecord } from '@palisade/store';
import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { RequestContext } from '../audit/context.js';
import type { AuditTrail } from '../audit/trail.js';
import type { SigningAlgorithm } from '../config/schema.js';
import type { Keystore } from '../keys/keystore.js';
import { detailsClaim } from '../rar/limits.js';
import type { Client, User } from '../realm.js';
import type { Actor } from './act.js';
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
  /** One audience (ADR 0002); several only where an exchange rule allows it. */
  readonly audience: string | readonly string[];
  readonly scope: readonly string[];
  readonly grantId: string | null;
  /** Present when a person authenticated (RFC 9068 §2.2.1). */
  readonly authentication?: { readonly authTime: number; readonly acr: string; readonly amr: readonly string[] };
  /** RFC 9396 §9.1: the details go into the JWT as the `authorization_details` claim. */
  readonly authorizationDetails?: readonly AuthorizationDetail[] | undefined;
  /** RFC 8693 §4.1: the delegation chain of an exchanged token. */
  readonly act?: Actor | undefined;
  /** Never live past this (RFC 8693: an exchanged token does not outlive its subject token). */
  readonly notAfter?: number | undefined;
  /** The subject token's `jti` for an exchanged token. */
  readonly derivedFrom?: string | undefined;
  /** RFC 9449 §6.1: bind the token to this key thumbprint (`cnf.jkt`). */
  readonly jkt?: string | undefined;
  /** The token request being served (`ctx.request`): its grant type and trace go into the audit event. */
  readonly served?: RequestContext | undefined;
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
 * make it introspect as inactive at once; the record's token hash lets the
 * IdP recognize its own tokens without checking their signature (ADR 0011).
 */
export class TokenIssuer {
  readonly #issuer: string;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #keystore: Keystore;
  readonly #lifetimes: Lifetimes;
  readonly #accessTokenAlg: SigningAlgorithm;
  /** Audience → client_id of the resource server it belongs to. */
  readonly #audienceOwners: ReadonlyMap<string, string>;
  /** ID tokens minted for services (token exchange), where no client states a preference. */
  readonly #idTokenAlg: SigningAlgorithm;
  #verificationKeys: JWTVerifyGetKey;
  #verificationJwks: unknown;

  readonly #audit: AuditTrail;

  constructor(
    issuer: string,
    store: Store,
    clock: Clock,
    keystore: Keystore,
    lifetimes: Lifetimes,
    accessTokenAlg: SigningAlgorithm,
    audit: AuditTrail,
    audienceOwners: ReadonlyMap<string, string> = new Map(),
    idTokenAlg: SigningAlgorithm = 'RS256',
  ) {
    this.#audit = audit;
    this.#audienceOwners = audienceOwners;
    this.#idTokenAlg = idTokenAlg;
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
    // Time-ordered: the token record's key lands at the end of the store's index (ADR 0013).
    const jti = timeOrderedId();
    const exp = Math.min(now + this.#lifetimes.accessToken, request.notAfter ?? Number.POSITIVE_INFINITY);
    const mayAct = typeof request.audience === 'string' ? this.#audienceOwners.get(request.audience) : undefined;
    const { kid, alg, key } = this.#keystore.signingKey(this.#accessTokenAlg);
    const claims: Omit<AccessTokenClaims, 'iss' | 'sub' | 'aud' | 'jti' | 'iat' | 'exp'> = {
      client_id: request.client.id,
      ...(request.scope.length > 0 ? { scope: request.scope.join(' ') } : {}),
      ...(request.authentication
        ? { auth_time: request.authentication.authTime, acr: request.authentication.acr, amr: [...request.authentication.amr] }
        : {}),
      ...detailsClaim(request.authorizationDetails),
      ...(request.act ? { act: request.act } : {}),
      // RFC 8693 §4.4: only the service this token is for may exchange it onwards.
      ...(mayAct ? { may_act: { sub: mayAct } } : {}),
      ...(request.jkt ? { cnf: { jkt: request.jkt } } : {}),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
      .setIssuer(this.#issuer)
      .setSubject(request.sub)
      .setAudience(typeof request.audience === 'string' ? request.audience : [...request.audience])
      .setJti(jti)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(key);
    const record: AccessTokenRecord = {
      clientId: request.client.id,
      sub: request.sub,
      grantId: request.grantId,
      ...(request.derivedFrom ? { derivedFrom: request.derivedFrom } : {}),
      ...(request.jkt ? { jkt: request.jkt } : {}),
      tokenHash: sha256(token),
    };
    await this.#store.insert('access_token', jti, record, {
      expiresAt: exp,
      ...(request.grantId ? { grantId: request.grantId } : {}),
    });
    const exchanged = request.derivedFrom !== undefined;
    this.#audit.record(
      {
        event: exchanged ? 'token.exchanged' : 'token.issued',
        outcome: 'success',
        sub: request.sub,
        client: request.client.id,
        jti,
        ...(request.derivedFrom ? { derived_from: request.derivedFrom } : {}),
        ...(request.act ? { act: request.act } : {}),
        ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
        data: {
          audience: typeof request.audience === 'string' ? request.audience : [...request.audience],
          scope: request.scope.join(' '),
          ...(exchanged
            ? { token_type: 'urn:ietf:params:oauth:token-type:access_token' }
            : { grant_type: request.served?.grantType ?? '' }),
          ...(request.grantId ? { grant_id: request.grantId } : {}),
          ...(request.jkt ? { dpop_jkt: request.jkt } : {}),
        },
      },
      request.served,
    );
    return { token, jti, expiresIn: exp - now };
  }

  async idToken(input: {
    client: Client;
    user: User;
    grant: Grant;
    nonce: string | undefined;
    accessToken: string;
    /** CIBA §10.3.1 push: the refresh token delivered alongside, bound by `rt_hash`. */
    refreshToken?: string | undefined;
    /** CIBA §10.3.1 push: `urn:openid:params:jwt:claim:auth_req_id`. */
    authReqId?: string | undefined;
  }): Promise<string> {
    const now = this.#clock.now();
    const { kid, alg, key } = this.#keystore.signingKey(input.client.idTokenAlg);
    return new SignJWT({
      auth_time: input.grant.authTime,
      acr: input.grant.acr,
      amr: [...input.grant.amr],
      azp: input.client.id,
      at_hash: halfHash(input.accessToken, alg),
      ...(input.refreshToken ? { rt_hash: halfHash(input.refreshToken, alg) } : {}),
      ...(input.authReqId ? { 'urn:openid:params:jwt:claim:auth_req_id': input.authReqId } : {}),
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
  async refreshToken(grantId: string, clientId: string, grantExpiresAt: number, jkt?: string): Promise<string> {
    const token = randomToken(32);
    const record: RefreshTokenRecord = { grantId, clientId, ...(jkt ? { jkt } : {}) };
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
    return (await this.inspectAccessToken(token)).claims;
  }

  /** verifyAccessToken, plus the store record (the grant the token hangs off). */
  async inspectAccessToken(token: string): Promise<{ claims: AccessTokenClaims; grantId: string | null }> {
    const { claims, record } = (await this.#recognize(token)) ?? (await this.#verifyAndFind(token));
    // An exchanged token lives only while every token up its chain does (revocation cascades down, ADR 0006).
    let parent = record.value.derivedFrom;
    for (let hops = 0; parent !== undefined && hops < 16; hops++) {
      const above = await this.#store.find<AccessTokenRecord>('access_token', parent);
      if (!above) throw InvalidToken('the access token is invalid', 'a token it was exchanged from was revoked');
      parent = above.value.derivedFrom;
    }
    // A token written while its grant was being revoked (racing code reuse or
    // refresh replay) outlives the family delete; the grant decides (OAuth 2.1 §4.1.3).
    if (record.value.grantId !== null && !(await this.#store.find('grant', record.value.grantId))) {
      throw InvalidToken('the access token is invalid', 'grant revoked');
    }
    return { claims, grantId: record.value.grantId };
  }

  /**
   * An ID token this IdP issued (OIDC Core §2), still valid: signature by our
   * keys, issuer, expiry. Used as a token-exchange subject (RFC 8693 §3).
   */
  async verifyIdToken(token: string): Promise<{
    sub: string;
    aud: string[];
    exp: number;
    sid: string | undefined;
    authTime: number | undefined;
    acr: string | undefined;
    amr: string[] | undefined;
  }> {
    this.#refreshVerificationKeys();
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.#verificationKeys, {
        issuer: this.#issuer,
        currentDate: new Date(this.#clock.now() * 1000),
        requiredClaims: ['sub', 'aud', 'exp', 'iat'],
      });
      // An access token is not an ID token (RFC 9068 §4 in reverse).
      if (protectedHeader.typ === 'at+jwt') throw new TypeError('an access token is not an ID token');
      return {
        sub: payload.sub as string,
        aud: [payload.aud ?? []].flat(),
        exp: payload.exp as number,
        sid: typeof payload.sid === 'string' ? payload.sid : undefined,
        authTime: typeof payload.auth_time === 'number' ? payload.auth_time : undefined,
        acr: typeof payload.acr === 'string' ? payload.acr : undefined,
        amr: Array.isArray(payload.amr) ? payload.amr.map(String) : undefined,
      };
    } catch (error) {
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'malformed';
      throw InvalidToken('the ID token is invalid', reason);
    }
  }

  /**
   * An ID token minted by token exchange (RFC 8693 §2.2.1 `id_token` output):
   * the user for the target service, never outliving the subject token.
   */
  async exchangedIdToken(input: {
    user: User;
    audience: string;
    notAfter: number;
    act: Actor | undefined;
    /** Whether the user's scopes or the exchange rule release the name (see releasedAttributes). */
    releaseName: boolean;
  }): Promise<{ token: string; expiresIn: number }> {
    const now = this.#clock.now();
    const exp = Math.min(now + this.#lifetimes.idToken, input.notAfter);
    const { kid, alg, key } = this.#keystore.signingKey(this.#idTokenAlg);
    const token = await new SignJWT({ ...(input.act ? { act: input.act } : {}), ...(input.releaseName ? { name: input.user.name } : {}) })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer(this.#issuer)
      .setSubject(input.user.sub)
      .setAudience(input.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(key);
    return { token, expiresIn: exp - now };
  }

  /**
   * The client (`aud`) and user (`sub`) of an ID token this IdP signed, or
   * undefined. Expiry is not checked: a hint identifies, it does not
   * authenticate (OIDC RP-Initiated Logout §2, CIBA §7.1 `id_token_hint`).
   */
  async idTokenHint(token: string): Promise<{ client: string; sub: string } | undefined> {
    this.#refreshVerificationKeys();
    try {
      const { payload, protectedHeader } = await compactVerify(token, this.#verificationKeys);
      // An access token is not an ID token, even a signed one of ours (RFC 9068 §4).
      if (protectedHeader.typ === 'at+jwt') return undefined;
      const claims = JSON.parse(new TextDecoder().decode(payload)) as { iss?: unknown; aud?: unknown; sub?: unknown };
      if (claims.iss !== this.#issuer || typeof claims.sub !== 'string') return undefined;
      const aud = [claims.aud].flat();
      return aud.length === 1 && typeof aud[0] === 'string' ? { client: aud[0], sub: claims.sub } : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A token this IdP issued, recognized byte for byte (ADR 0011): its record
   * keeps the SHA-256 of the token as signed, a record only the issuer writes,
   * right after signing. A match proves what the signature would, for a hash
   * instead of an ECDSA verification. The key that signed it must still be
   * one of ours (a retired key's tokens fail here as their signatures would)
   * and the token must not have expired. Anything else (no record, no match,
   * a record from before token hashes) goes to the signature check.
   */
  async #recognize(token: string): Promise<{ claims: AccessTokenClaims; record: StoredRecord<AccessTokenRecord> } | undefined> {
    let claims: Partial<AccessTokenClaims>;
    let kid: string | undefined;
    try {
      claims = decodeJwt(token) as Partial<AccessTokenClaims>;
      kid = decodeProtectedHeader(token).kid;
    } catch {
      return undefined;
    }
    if (typeof claims.jti !== 'string' || typeof claims.exp !== 'number' || claims.exp <= this.#clock.now()) return undefined;
    const record = await this.#store.find<AccessTokenRecord>('access_token', claims.jti);
    const expected = record?.value.tokenHash;
    if (!record || expected === undefined || !digestEqual(expected, sha256(token))) return undefined;
    if (!this.#keystore.jwks.keys.some((key) => key.kid === kid)) return undefined;
    return { claims: claims as AccessTokenClaims, record };
  }

  /** The signature check of any access token presented as ours, then its record: unknown or revoked tokens have none. */
  async #verifyAndFind(token: string): Promise<{ claims: AccessTokenClaims; record: StoredRecord<AccessTokenRecord> }> {
    let claims: AccessTokenClaims;
    try {
      claims = await this.#verifyWithReload(token);
    } catch (error) {
      const reason = error instanceof joseErrors.JOSEError ? error.code : 'malformed';
      throw InvalidToken('the access token is invalid', reason);
    }
    const record = await this.#store.find<AccessTokenRecord>('access_token', claims.jti);
    if (!record) throw InvalidToken('the access token is invalid', 'revoked or unknown jti');
    return { claims, record };
  }

  /** Verifies a JWT access token; a key unknown to this node triggers one (rate-limited) reload from the shared store. */
  async #verifyWithReload(token: string): Promise<AccessTokenClaims> {
    const verify = async () => {
      this.#refreshVerificationKeys();
      const verified = await jwtVerify<AccessTokenClaims>(token, this.#verificationKeys, {
        issuer: this.#issuer,
        typ: 'at+jwt',
        currentDate: new Date(this.#clock.now() * 1000),
        requiredClaims: ['sub', 'aud', 'jti', 'exp', 'iat', 'client_id'],
      });
      return verified.payload;
    };
    try {
      return await verify();
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey && (await this.#keystore.reloadIfStale())) return verify();
      throw error;
    }
  }

  #refreshVerificationKeys(): void {
    if (this.#verificationJwks !== this.#keystore.jwks) {
      this.#verificationJwks = this.#keystore.jwks;
      this.#verificationKeys = createLocalJWKSet(this.#keystore.jwks);
    }
  }
}
