import { type AuthorizationDetail, InvalidRequest, InvalidToken, type OAuthError } from '@palisade/core';
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { type IntrospectionOptions, Introspector } from './introspection.js';

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
  readonly claims: JWTPayload;
}

/** Where the token came from: an incoming request's pieces, framework-neutral. */
export interface IncomingRequest {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly url: string;
  /** A parsed form body, if any, to refuse tokens sent there (OAuth 2.1 §5.1). */
  readonly body?: unknown;
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
}

/** Verified tokens kept per verifier (about 2 KiB each). */
const MAX_VERIFIED = 5000;

/** Asymmetric algorithms only; with keys that carry `alg`, jose also pins each key to its own (SECURITY M3, M4). */
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

function header(request: IncomingRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
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
  readonly #options: Required<Omit<VerifierOptions, 'jwksUri' | 'now' | 'introspection'>>;
  readonly #introspector: Introspector | undefined;
  readonly #now: () => number;
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
    const { now, jwksUri: _uri, introspection, ...rest } = options;
    this.#options = { clockTolerance: 30, jwksCooldown: 30, maxTokenLength: 8192, ...rest };
    this.#now = now ?? (() => Date.now() / 1000);
    this.#introspector = introspection ? new Introspector(options.issuer, introspection, this.#now) : undefined;
    this.#jwksUri = options.jwksUri;
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
    this.#keys = createRemoteJWKSet(new URL(uri), { cooldownDuration: this.#options.jwksCooldown * 1000, cacheMaxAge: 10 * 60 * 1000 });
    return this.#keys;
  }

  /**
   * The Bearer token of a request (RFC 6750 §2.1). A token in the query string
   * or form body is refused outright (OAuth 2.1 §5.1, SECURITY M8); no Bearer
   * token at all (no header, another scheme) returns undefined (the caller
   * answers with a bare challenge, M1).
   */
  bearerToken(request: IncomingRequest): string | undefined {
    const query = request.url.includes('?') ? new URLSearchParams(request.url.slice(request.url.indexOf('?') + 1)) : undefined;
    const body = request.body;
    const inBody =
      body instanceof URLSearchParams ? body.has('access_token') : body !== null && typeof body === 'object' && 'access_token' in body;
    if (query?.has('access_token') || inBody) throw InvalidRequest('access tokens are accepted in the Authorization header only');
    const authorization = header(request, 'authorization');
    // RFC 6750 §3.1: another scheme (Basic, …) carries no Bearer token: a bare challenge, no error code.
    if (authorization === undefined || !/^Bearer(\s|$)/i.test(authorization.trim())) return undefined;
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim());
    if (!match?.[1]) throw InvalidToken('the Authorization header is not a Bearer token');
    if (match[1].length > this.#options.maxTokenLength) throw InvalidToken('the access token is too large');
    return match[1];
  }

  /** Verifies a token string; every failure is 401 `invalid_token` without saying which check failed. */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > this.#options.maxTokenLength) throw InvalidToken('the access token is too large');
    const cached = this.#verified.get(token);
    if (cached) {
      // The same expiry rule as jwtVerify's: valid while now < exp + clockTolerance.
      if (this.#now() < cached.exp + this.#options.clockTolerance) {
        await this.#introspector?.assertActive(token, cached.exp);
        return cached;
      }
      this.#verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.#jwks(), {
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        typ: 'at+jwt',
        algorithms: ALGORITHMS,
        clockTolerance: this.#options.clockTolerance,
        currentDate: new Date(this.#now() * 1000),
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'client_id'],
      }));
    } catch (error) {
      const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
      throw InvalidToken('the access token is invalid', reason);
    }
    // An iat in the future beyond the skew means a wrong clock or a forged timeline (jose checks iat only with maxTokenAge).
    if (typeof payload.iat === 'number' && payload.iat > this.#now() + this.#options.clockTolerance) {
      throw InvalidToken('the access token is invalid', 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    }
    // A sender-constrained token (RFC 9449 `cnf`) must come with its proof; presented as Bearer it is refused (SECURITY P-1).
    if (payload.cnf !== undefined) throw InvalidToken('the access token is sender-constrained', 'cnf present on a Bearer request');
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
      claims: payload,
    };
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.delete(this.#verified.keys().next().value ?? '');
    this.#verified.set(token, verified);
    return verified;
  }

  /** bearerToken + verify: the whole check of an incoming request. Undefined when there is no token. */
  async verifyRequest(request: IncomingRequest): Promise<VerifiedToken | undefined> {
    const token = this.bearerToken(request);
    return token === undefined ? undefined : this.verify(token);
  }
}

export type { OAuthError };
