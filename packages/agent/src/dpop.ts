import { exportJWK, importJWK, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';

/** A DPoP key pair as a token file keeps it (0600, beside the refresh token it is bound to). */
export interface StoredKeyPair {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/**
 * A fresh ES256 key pair (RFC 9449 §4.2). `extractable` only where it must
 * outlive the process, e.g. a CLI whose refresh token is bound to it.
 */
export function newKeyPair(extractable = false): Promise<oauth.CryptoKeyPair> {
  return oauth.generateKeyPair('ES256', { extractable });
}

export async function exportKeyPair(keyPair: oauth.CryptoKeyPair): Promise<StoredKeyPair> {
  return { privateJwk: await exportJWK(keyPair.privateKey), publicJwk: await exportJWK(keyPair.publicKey) };
}

export async function importKeyPair(stored: StoredKeyPair): Promise<oauth.CryptoKeyPair> {
  const [privateKey, publicKey] = await Promise.all([
    importJWK(stored.privateJwk, 'ES256', { extractable: true }),
    importJWK(stored.publicJwk, 'ES256', { extractable: true }),
  ]);
  return { privateKey, publicKey } as oauth.CryptoKeyPair;
}

/**
 * RFC 9449 §8: a server may demand a fresh nonce; oauth4webapi remembers the
 * one it was given, and the request is sent once more.
 */
export async function retryingNonce<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return request();
  }
}

/**
 * fetch() for a protected resource that presents the access token the MCP
 * client put in `Authorization: Bearer …` as `DPoP` with a proof for exactly
 * this method and URL (RFC 9449 §7). Challenges come back as responses, so
 * the MCP client still sees its 401 and 403.
 */
export function presentingWithDPoP(dpop: oauth.DPoPHandle, http: { [oauth.allowInsecureRequests]?: boolean }): typeof fetch {
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    const authorization = headers.get('authorization');
    if (!authorization?.startsWith('Bearer ')) return fetch(input, init);
    headers.delete('authorization');
    const url = new URL(input instanceof Request ? input.url : String(input));
    const send = () =>
      oauth.protectedResourceRequest(
        authorization.slice('Bearer '.length),
        init?.method ?? 'GET',
        url,
        headers,
        (init?.body ?? null) as oauth.ProtectedResourceRequestBody,
        { DPoP: dpop, ...(init?.signal ? { signal: init.signal } : {}), ...http },
      );
    try {
      return await retryingNonce(send);
    } catch (error) {
      if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
      throw error;
    }
  };
}
