import { accessTokenHash } from '@palisade/core';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** A DPoP key pair the way a client keeps one: the private key, and the public JWK its proofs carry. */
export interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
}

export async function proofKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

export interface ProofOptions {
  readonly htm?: string;
  readonly htu: string;
  readonly accessToken?: string;
  readonly nonce?: string;
  readonly jti?: string;
  /** Seconds since the epoch; the real time by default. */
  readonly iat?: number;
  /** Claims to leave out, to test each one missing. */
  readonly omit?: readonly string[];
  /** Header overrides (typ, jwk, alg) to build broken proofs. */
  readonly header?: Record<string, unknown>;
}

/**
 * A DPoP proof JWT (RFC 9449 §4.2) made by hand, so tests can break any part
 * of it; well-formed unless told otherwise.
 */
export async function makeProof(key: ProofKey, options: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: options.jti ?? crypto.randomUUID(),
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    ...(options.accessToken !== undefined ? { ath: accessTokenHash(options.accessToken) } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  };
  for (const name of options.omit ?? []) delete claims[name];
  const alg = key.jwk.kty === 'OKP' ? 'EdDSA' : 'ES256';
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: key.jwk, ...options.header } as never).sign(key.privateKey);
}
