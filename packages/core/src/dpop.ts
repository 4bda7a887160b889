import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors, type JWK, jwtVerify } from 'jose';
import { OAuthError } from './errors.js';
import { randomToken } from './random.js';

/**
 * DPoP (RFC 9449): proof-of-possession of a key the client keeps. One proof
 * check shared by the IdP (token, PAR, CIBA, userinfo) and every resource
 * server, so both refuse the same things the same way (SECURITY P-2 to P-5).
 */

/** Asymmetric algorithms only (RFC 9449 §4.2: no `none`, no MAC). */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;

export const InvalidDpopProof = (description: string, detail?: string) => new OAuthError('invalid_dpop_proof', 400, description, detail);
export const UseDpopNonce = (description: string) => new OAuthError('use_dpop_nonce', 400, description);

/** JWK members that only a private key has: a proof must never carry them (RFC 9449 §4.2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** A proof is a handful of claims and a public key; anything larger is not one (SECURITY J2). */
const MAX_PROOF_LENGTH = 4096;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

/** The URI a proof's `htu` is compared with: no query or fragment (RFC 9449 §4.3 step 9), normalized by the URL parser. */
export function htuOf(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    url.search = '';
    url.hash = '';
    return url.href;
  } catch {
    return undefined;
  }
}

/** Where server nonces come from and whether one is still good (RFC 9449 §8, §9). */
export interface NonceSource {
  current(): Promise<string>;
  accepts(nonce: string): Promise<boolean>;
}

export interface ProofCheck {
  /** The HTTP method of the request the proof came with. */
  readonly method: string;
  /** The request's URI as the client addressed it (query and fragment are ignored); several when it may have been addressed in more than one way. */
  readonly url: string | readonly string[];
  /** Present at a resource: the proof must hash exactly this token (`ath`, RFC 9449 §4.3 step 10). */
  readonly accessToken?: string;
  /** Seconds since the epoch. */
  readonly now: number;
  /** How old a proof may be, by its `iat` (seconds). */
  readonly maxAge: number;
  /** How far in the future `iat` may be, for clock skew (seconds). */
  readonly skew: number;
  /** When set, the proof must carry a nonce this source accepts. */
  readonly nonces?: NonceSource | undefined;
  /** Records `jti` for the proof's window; false when it was seen before (RFC 9449 §11.1). */
  readonly remember: (key: string, expiresAt: number) => Promise<boolean>;
}

export interface VerifiedProof {
  /** RFC 7638 thumbprint of the proof's public key: what `cnf.jkt` binds a token to. */
  readonly jkt: string;
  readonly jti: string;
}

function headerValues(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/**
 * Checks the DPoP header of a request (RFC 9449 §4.3). Returns undefined when
 * there is none; throws `invalid_dpop_proof` or `use_dpop_nonce` otherwise.
 * The replay check comes last, so a proof refused for any other reason does
 * not burn its `jti`.
 */
export async function verifyDpopProof(
  header: string | readonly string[] | undefined,
  check: ProofCheck,
): Promise<VerifiedProof | undefined> {
  const values = headerValues(header);
  if (values.length === 0) return undefined;
  // §4.3 step 1: exactly one DPoP header field; Node joins repeats with ", ", which is no compact JWS either.
  const proof = values[0] as string;
  if (values.length > 1 || proof.length > MAX_PROOF_LENGTH || !COMPACT_JWS.test(proof)) {
    throw InvalidDpopProof('the DPoP header must carry exactly one proof JWT');
  }
  let jwk: JWK;
  try {
    const header = decodeProtectedHeader(proof);
    if (header.typ !== 'dpop+jwt') throw InvalidDpopProof('the proof typ must be dpop+jwt');
    if (!DPOP_ALGORITHMS.includes(header.alg as never)) throw InvalidDpopProof('the proof algorithm is not supported');
    if (header.jwk === null || typeof header.jwk !== 'object') throw InvalidDpopProof('the proof carries no public key');
    if (PRIVATE_MEMBERS.some((member) => member in (header.jwk as object))) throw InvalidDpopProof('the proof key must be a public key');
    jwk = header.jwk as JWK;
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw InvalidDpopProof('the proof is not a valid JWT', String(error));
  }
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_ALGORITHMS] }));
  } catch (error) {
    const reason = error instanceof errors.JOSEError ? error.code : 'malformed';
    throw InvalidDpopProof('the proof signature or format is invalid', reason);
  }
  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti.length < 8 || jti.length > 256) throw InvalidDpopProof('the proof needs a jti');
  if (typeof htm !== 'string' || typeof htu !== 'string' || typeof iat !== 'number') {
    throw InvalidDpopProof('the proof needs htm, htu and iat');
  }
  if (htm !== check.method) throw InvalidDpopProof('the proof was made for another HTTP method');
  const addressed = htuOf(htu);
  if (addressed === undefined || ![check.url].flat().some((url) => htuOf(url) === addressed)) {
    throw InvalidDpopProof('the proof was made for another URI');
  }
  if (iat > check.now + check.skew || iat < check.now - check.maxAge) throw InvalidDpopProof('the proof is too old or from the future');
  if (check.accessToken !== undefined) {
    if (typeof ath !== 'string') throw InvalidDpopProof('the proof needs ath');
    if (ath !== accessTokenHash(check.accessToken)) throw InvalidDpopProof('the proof was made for another access token');
  }
  if (check.nonces) {
    // §8: a missing or stale nonce is answered with a fresh one, which the client retries with.
    if (typeof nonce !== 'string' || !(await check.nonces.accepts(nonce))) throw UseDpopNonce('a fresh DPoP nonce is required');
  }
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  // §11.1: a proof is single-use within its window, per key.
  if (!(await check.remember(`${jkt}:${jti}`, iat + check.maxAge + check.skew))) throw InvalidDpopProof('the proof was already used');
  return { jkt, jti };
}

/**
 * Server nonces (RFC 9449 §8, §9) without a per-request write: each node
 * hands out its current nonce, which rotates every `lifetime / 2` seconds and
 * is accepted for `lifetime`. With `shared`, a nonce one node handed out is
 * published once, so every node accepts it (a cluster behind a balancer).
 */
export class DpopNonces implements NonceSource {
  readonly #lifetime: number;
  readonly #now: () => number;
  readonly #shared: { publish(nonce: string, expiresAt: number): Promise<void>; has(nonce: string): Promise<boolean> } | undefined;
  #recent: { value: string; issuedAt: number }[] = [];

  constructor(options: {
    lifetime: number;
    now: () => number;
    shared?: { publish(nonce: string, expiresAt: number): Promise<void>; has(nonce: string): Promise<boolean> };
  }) {
    this.#lifetime = options.lifetime;
    this.#now = options.now;
    this.#shared = options.shared;
  }

  async current(): Promise<string> {
    const now = this.#now();
    const newest = this.#recent[0];
    if (newest && now - newest.issuedAt < this.#lifetime / 2) return newest.value;
    const value = randomToken(16);
    this.#recent = [{ value, issuedAt: now }, ...this.#recent.filter((n) => now - n.issuedAt < this.#lifetime)];
    await this.#shared?.publish(value, now + this.#lifetime);
    return value;
  }

  async accepts(nonce: string): Promise<boolean> {
    const now = this.#now();
    if (this.#recent.some((n) => n.value === nonce && now - n.issuedAt < this.#lifetime)) return true;
    return nonce.length <= 64 && this.#shared !== undefined && (await this.#shared.has(nonce));
  }
}

/**
 * A per-process `jti` cache for resource servers without a shared store
 * (RFC 9449 §11.1). Bounded: past `max` live entries, new proofs are refused
 * rather than old ones forgotten, so flooding cannot open a replay window.
 */
export class MemoryReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #max: number;
  readonly #now: () => number;

  constructor(now: () => number, max = 100_000) {
    this.#now = now;
    this.#max = max;
  }

  readonly remember = async (key: string, expiresAt: number): Promise<boolean> => {
    const now = this.#now();
    const seen = this.#seen.get(key);
    if (seen !== undefined && seen > now) return false;
    if (this.#seen.size >= this.#max) {
      for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k);
      if (this.#seen.size >= this.#max) return false;
    }
    this.#seen.set(key, expiresAt);
    return true;
  };
}
