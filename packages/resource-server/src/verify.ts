import {
  type AuthorizationDetail,
  InvalidDpopProof,
  InvalidRequest,
  InvalidToken,
  MemoryReplayCache,
  type NonceSource,
  OAuthError,
  verifyDpopProof,
} from '@palisade/core';
import { errors, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import { type IntrospectionOptions, Introspector } from './introspection.js';
import { remoteKeys } from './jwks.js';

/** What a verified Palisade access token says (RFC 9068, RFC 9396, RFC 8693 §4.1). */
export interface VerifiedToken {
  readonly sub: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly authorizationDetails: readonly AuthorizationDetail[];
  /** The current actor (RFC 8693 §4.1): the only actor to authorize on; the rest of the chain is history. */
  readonly actor: string | undefined;
  /** The whole chain, current actor first, for audit. */
  readonly actors: readonly string[];
  readonly jti: string;
  readonly exp: number;
  /** The raw token, for exchange only: never log it. */
  readonly token: string;
  /** RFC 9449 §6.1: the thumbprint of the key a DPoP-bound token is bound to. */
  readonly jkt: string | undefined;
  readonly claims: JWTPayload;
  /**
   * The W3C trace of the request that presented the token (set by
   * `verifyRequest` when the request names one, as the adapters do):
   * exchanges and fetches made for this request continue it.
   */
  readonly traceId?: string | undefined;
}

/** Where the token came from: an incoming request's pieces, framework-neutral. */
export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The HTTP method, which a DPoP proof names (`htm`). */
  readonly method?: string;
  readonly url: string;
  /** A parsed form body, if any, to refuse tokens sent there (OAuth 2.1 §5.1). */
  readonly body?: unknown;
  /** The request's trace (`requestTrace`), put on the verified token it returns. */
  readonly traceId?: string | undefined;
}

export interface VerifierOptions {
  readonly issuer: string;
  /** This resource server's own audience URI (RFC 8707): tokens for anyone else are refused. */
  readonly audience: string;
  /** The IdP's JWKS URL; discovered from the issuer when absent. */
  readonly jwksUri?: string;
  /** Seconds of clock skew allowed on exp/nbf/iat (default 30). */
  readonly clockTolerance?: number;
  /** Seconds between JWKS refreshes for unknown `kid`s (default 30). */
  readonly jwksCooldown?: number;
  /** Largest token accepted, checked before any crypto (SECURITY J2; default 8 KiB). */
  readonly maxTokenLength?: number;
  /** Seconds since the epoch (tests inject the IdP's clock). */
  readonly now?: () => number;
  /** Also ask the IdP whether each token is still active (RFC 7662), with a short cache: revocation takes effect within it. */
  readonly introspection?: IntrospectionOptions;
  /** DPoP (RFC 9449). Bound tokens always need their proof; this says what else is asked. */
  readonly dpop?: DpopOptions;
  /** Keep tokens that passed every check until they expire (default true); off, each request verifies its signature again. */
  readonly cacheVerified?: boolean;
}

export interface DpopOptions {
  /** Refuse Bearer tokens altogether: every token must be DPoP-bound (default false). */
  readonly required?: boolean;
  /** Server nonces (RFC 9449 §9), e.g. `new DpopNonces(…)`; proofs then need a fresh one. */
  readonly nonces?: NonceSource;
  /** Seconds a proof may be old, by its `iat` (default 60). */
  readonly maxAge?: number;
  /** Where proof `jti`s are remembered (default: this process's memory; pass a shared one for several nodes). */
  readonly remember?: (key: string, expiresAt: number) => Promise<boolean>;
}

/** The token of a request and the scheme it came with (RFC 6750 §2.1, RFC 9449 §7.1). */
export interface PresentedToken {
  readonly token: string;
  readonly scheme: 'Bearer' | 'DPoP';
}

/**
 * A refusal answered with a DPoP challenge (RFC 9449 §7.1): the request used
 * the DPoP scheme or the token is bound. Proof errors are 401 at a resource.
 */
export class DpopRefusal extends OAuthError {
  constructor(
    cause: OAuthError,
    /** A fresh nonce to retry with, for use_dpop_nonce. */
    readonly nonce?: string,
  ) {
    super(cause.error, cause.status === 400 && cause.error !== 'invalid_request' ? 401 : cause.status, cause.description, cause.detail);
  }
}

/** Verified tokens kept per verifier (about 2 KiB each). */
const MAX_VERIFIED = 5000;

/** Asymmetric algorithms only; with keys that carry `alg`, jose also pins each key to its own (SECURITY M3, M4). */
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

function header(request: IncomingRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The request's copy of a cached, shared verified token, with the request's trace. */
function inTrace(verified: VerifiedToken, traceId: string | undefined): VerifiedToken {
  return traceId === undefined ? verified : { ...verified, traceId };
}

function actorsOf(act: unknown): string[] {
  const out: string[] = [];
  let current = act;
  for (let depth = 0; depth < 16 && current !== null && typeof current === 'object'; depth++) {
    const { sub, act: next } = current as { sub?: unknown; act?: unknown };
    if (typeof sub !== 'string') break;
    out.push(sub);
    current = next;
  }
  return out;
}

/**
 * Verifies Palisade access tokens for one resource server: Bearer from the
 * Authorization header only, JWT signature against the IdP's JWKS (fetched
 * once, refreshed on an unknown `kid` at most once per cooldown; `jku`,
 * `x5u` and embedded `jwk` headers are never used, SECURITY M5), `typ`
 * `at+jwt` (an ID token is not an access token, M6), issuer, this server's
 * audience (M2), expiry and not-before with a small skew.
 */
export class TokenVerifier {
  readonly #options: Required<Omit<VerifierOptions, 'jwksUri' | 'now' | 'introspection' | 'dpop' | 'cacheVerified'>>;
  readonly #cacheVerified: boolean;
  readonly #dpop: DpopOptions & { remember: NonNullable<DpopOptions['remember']> };
  readonly #introspector: Introspector | undefined;
  readonly #now: () => number;
  /** jwtVerify's options, built once; `currentDate` is added per call only when a clock is injected. */
  readonly #claims: JWTVerifyOptions;
  readonly #injectedClock: boolean;
  #keys: JWTVerifyGetKey | undefined;
  readonly #jwksUri: string | undefined;
  /**
   * Tokens that passed every local check, until they expire: a JWT's
   * signature and claims do not change, so each is checked once, not on every
   * request (a profile of the gateway spent a tenth of its time in ES256
   * verification). Bounded; the oldest entry goes first.
   */
  readonly #verified = new Map<string, VerifiedToken>();

  constructor(options: VerifierOptions) {
    const { now, jwksUri: _uri, introspection, dpop, cacheVerified, ...rest } = options;
    this.#cacheVerified = cacheVerified !== false;
    this.#options = { clockTolerance: 30, jwksCooldown: 30, maxTokenLength: 8192, ...rest };
    this.#now = now ?? (() => Date.now() / 1000);
    this.#injectedClock = now !== undefined;
    this.#claims = {
      issuer: this.#options.issuer,
      audience: this.#options.audience,
      typ: 'at+jwt',
      algorithms: ALGORITHMS,
      clockTolerance: this.#options.clockTolerance,
      requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
    };
    this.#dpop = { ...dpop, remember: dpop?.remember ?? new MemoryReplayCache(this.#now).remember };
    this.#introspector = introspection ? new Introspector(options.issuer, introspection, this.#now) : undefined;
    this.#jwksUri = options.jwksUri;
  }

  /** Whether Bearer tokens are refused (every token must be DPoP-bound). */
  get dpopRequired(): boolean {
    return this.#dpop.required === true;
  }

  get audience(): string {
    return this.#options.audience;
  }

  get issuer(): string {
    return this.#options.issuer;
  }

  async #jwks(): Promise<JWTVerifyGetKey> {
    if (this.#keys) return this.#keys;
    let uri = this.#jwksUri;
    if (!uri) {
      const response = await fetch(new URL('.well-known/oauth-authorization-server', `${this.#options.issuer.replace(/\/$/, '')}/`));
      const metadata = (await response.json()) as { issuer?: string; jwks_uri?: string };
      // RFC 8414 §3.3: the metadata must name the issuer we asked for.
      if (metadata.issuer !== this.#options.issuer || !metadata.jwks_uri)
        throw new Error('authorization server metadata does not match the issuer');
      uri = metadata.jwks_uri;
    }
    this.#keys = remoteKeys(new URL(uri), { cooldownDuration: this.#options.jwksCooldown * 1000, cacheMaxAge: 10 * 60 * 1000 });
    return this.#keys;
  }

  /**
   * The token of a request (RFC 6750 §2.1, RFC 9449 §7.1), Bearer or DPoP. A
   * token in the query string or form body is refused outright (OAuth 2.1
   * §5.1, SECURITY M8); no token at all (no header, another scheme) returns
   * undefined (the caller answers with a bare challenge, M1).
   */
  presentedToken(request: IncomingRequest): PresentedToken | undefined {
    const query = request.url.includes('?') ? new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1)) : undefined;
    const body = request.body;
    const inBody =
      body instanceof URLSearchParams ? body.has('access_token') : body !== null && typeof body === 'object' && 'access_token' in body;
    if (query?.has('access_token') || inBody) throw InvalidRequest('access tokens are accepted in the Authorization header only');
    const authorization = header(request, 'authorization')?.trim();
    // RFC 6750 §3.1: another scheme (Basic, …) carries no token: a bare challenge, no error code.
    const scheme = authorization === undefined ? undefined : /^(Bearer|DPoP)(\s|$)/i.exec(authorization)?.[1];
    if (authorization === undefined || scheme === undefined) return undefined;
    const dpop = scheme.toLowerCase() === 'dpop';
    const match = /^(?:Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization);
    const refuse = (error: OAuthError) => (dpop ? new DpopRefusal(error) : error);
    if (!match?.[1]) throw refuse(InvalidToken(`the Authorization header is not a ${dpop ? 'DPoP' : 'Bearer'} token`));
    if (match[1].length > this.#options.maxTokenLength) throw refuse(InvalidToken('the access token is too large'));
    return { token: match[1], scheme: dpop ? 'DPoP' : 'Bearer' };
  }

  /** The token of a request, whatever its scheme (see presentedToken). */
  bearerToken(request: IncomingRequest): string | undefined {
    return this.presentedToken(request)?.token;
  }

  /** Verifies a token string; every failure is 401 `invalid_token` without saying which check failed. */
  verify(token: string): Promise<VerifiedToken> {
    return this.#verify(token, undefined);
  }

  /** `verify`, with the request's trace put on the token it returns (a copy when the token is a cached one). */
  async #verify(token: string, traceId: string | undefined): Promise<VerifiedToken> {
    if (token.length > this.#options.maxTokenLength) throw InvalidToken('the access token is too large');
    const cached = this.#verified.get(token);
    if (cached) {
      // The same expiry rule as jwtVerify's: valid while now < exp + clockTolerance.
      if (this.#now() < cached.exp + this.#options.clockTolerance) {
        await this.#introspector?.assertActive(token, cached.exp);
        return inTrace(cached, traceId);
      }
      this.#verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      const keys = this.#keys ?? (await this.#jwks());
      const options = this.#injectedClock ? { ...this.#claims, currentDate: new Date(this.#now() * 1000) } : this.#claims;
      ({ payload } = await jwtVerify(token, keys, options));
    } catch (error) {
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      throw InvalidToken('the access token is invalid', reason);
    }
    // An iat in the future beyond the skew means a wrong clock or a forged timeline (jose checks iat only with maxTokenAge).
    if (typeof payload.iat === 'number' && payload.iat > this.#now() + this.#options.clockTolerance) {
      throw InvalidToken('the access token is invalid', 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    const cnf = payload.cnf as { jkt?: unknown } | undefined;
    // A confirmation method other than a DPoP key (mTLS `x5t#S256`, …) is one this SDK cannot check: refuse.
    if (cnf !== undefined && (typeof cnf !== 'object' || cnf === null || typeof cnf.jkt !== 'string')) {
      throw InvalidToken('the access token is invalid', 'unsupported cnf');
    }
    // Only tokens that passed every local check are worth a question to the IdP.
    await this.#introspector?.assertActive(token, payload.exp as number);
    const actors = actorsOf(payload.act);
    const verified: VerifiedToken = {
      sub: payload.sub as string,
      clientId: String(payload.client_id),
      scope: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
      authorizationDetails: Array.isArray(payload.authorization_details) ? (payload.authorization_details as AuthorizationDetail[]) : [],
      actor: actors[0],
      actors,
      jti: payload.jti as string,
      exp: payload.exp as number,
      token,
      jkt: cnf?.jkt as string | undefined,
      claims: payload,
      // Always present, so every verified token has one shape; the cached one never carries a request's trace.
      traceId: this.#cacheVerified ? undefined : traceId,
    };
    if (!this.#cacheVerified) return verified;
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value ?? '');
    this.#verified.set(token, verified);
    return inTrace(verified, traceId);
  }

  /**
   * The whole check of an incoming request: the token, and for a DPoP-bound
   * one its proof (RFC 9449 §7): `htm`, `htu` (this resource's origin and the
   * request path, without query), `iat`, `jti` once, `ath` and the key
   * thumbprint. Undefined when there is no token. The token returned is this
   * request's own copy, carrying its `traceId`; `verify` keeps the shared one.
   */
  async verifyRequest(request: IncomingRequest): Promise<VerifiedToken | undefined> {
    const presented = this.presentedToken(request);
    if (presented === undefined) return undefined;
    const dpop = presented.scheme === 'DPoP';
    let verified: VerifiedToken;
    try {
      verified = await this.#verify(presented.token, request.traceId);
    } catch (error) {
      throw dpop && error instanceof OAuthError ? new DpopRefusal(error) : error;
    }
    // SECURITY P-1: a bound token sent as Bearer is refused with a DPoP challenge; so is a Bearer token where DPoP is required.
    if (!dpop) {
      if (verified.jkt !== undefined) throw new DpopRefusal(InvalidToken('the access token is DPoP-bound: send it with a DPoP proof'));
      if (this.#dpop.required) throw new DpopRefusal(InvalidToken('this resource accepts DPoP-bound tokens only'));
      return verified;
    }
    if (verified.jkt === undefined) throw new DpopRefusal(InvalidToken('the access token is not DPoP-bound'));
    const path = request.url.split('?')[0] ?? '/';
    // htu: this resource's public URL, or the host the request was addressed to (a test port, an internal name).
    // Wider than the audience alone only by host name: the token's audience, the path, ath and the jti still bind the proof.
    const host = header(request, 'host');
    const audience = new URL(this.#options.audience);
    const addressed = [new URL(path, audience).href, ...(host ? [`${audience.protocol}//${host}${path}`] : [])];
    try {
      const proof = await verifyDpopProof(request.headers.dpop, {
        method: request.method ?? '',
        url: addressed,
        accessToken: presented.token,
        now: this.#now(),
        maxAge: this.#dpop.maxAge ?? 60,
        skew: this.#options.clockTolerance,
        nonces: this.#dpop.nonces,
        remember: this.#dpop.remember,
      });
      if (!proof) throw InvalidDpopProof('a DPoP proof is required with a DPoP token');
      // SECURITY P-4: the proof must be made with the key the token is bound to.
      if (proof.jkt !== verified.jkt) throw InvalidDpopProof('the DPoP proof was made with another key');
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      const nonce = error.error === 'use_dpop_nonce' ? await this.#dpop.nonces?.current() : undefined;
      throw new DpopRefusal(error, nonce);
    }
    return verified;
  }
}

export type { OAuthError };
