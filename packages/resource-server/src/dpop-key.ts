import { accessTokenHash, randomToken } from '@palisade/core';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/**
 * A service's own DPoP key (RFC 9449): it signs a proof for every request
 * that carries a token bound to it, so a token copied out of this process —
 * from memory, a log, a proxy — is useless anywhere else. The private key is
 * not extractable. Server nonces (§8, §9) are remembered per origin from
 * `DPoP-Nonce` answers.
 */
export class DpopKey {
  readonly #privateKey: PrivateKey;
  readonly #jwk: JWK;
  readonly #alg: string;
  /** RFC 7638 thumbprint: what `cnf.jkt` of tokens bound to this key says. */
  readonly jkt: string;
  readonly #nonces = new Map<string, string>();
  readonly #now: () => number;

  private constructor(privateKey: PrivateKey, jwk: JWK, alg: string, jkt: string, now: () => number) {
    this.#now = now;
    this.#privateKey = privateKey;
    this.#jwk = jwk;
    this.#alg = alg;
    this.jkt = jkt;
  }

  /** A fresh key pair, held in memory for the life of the process (ES256: the cheapest to sign and verify, FIELD-NOTES). */
  static async generate(options: { alg?: 'ES256' | 'EdDSA'; now?: () => number } = {}): Promise<DpopKey> {
    const alg = options.alg ?? 'ES256';
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const jwk = await exportJWK(publicKey);
    const now = options.now ?? (() => Math.floor(Date.now() / 1000));
    return new DpopKey(privateKey, jwk, alg, await calculateJwkThumbprint(jwk), now);
  }

  /** A proof for one request (RFC 9449 §4.2), with `ath` when a token goes along and the origin's last nonce. */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    const target = new URL(url);
    const nonce = this.#nonces.get(target.origin);
    return new SignJWT({
      htm: method,
      htu: `${target.origin}${target.pathname}`,
      ...(accessToken !== undefined ? { ath: accessTokenHash(accessToken) } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
    })
      .setProtectedHeader({ alg: this.#alg, typ: 'dpop+jwt', jwk: this.#jwk })
      .setJti(randomToken(16))
      .setIssuedAt(this.#now())
      .sign(this.#privateKey);
  }

  /**
   * fetch() with a proof, and with `accessToken` as `Authorization: DPoP`.
   * A `use_dpop_nonce` answer (400 from an authorization server, 401 from a
   * resource) is retried once with the nonce it carried.
   */
  async fetch(url: string, init: RequestInit & { accessToken?: string } = {}): Promise<Response> {
    const { accessToken, ...rest } = init;
    const method = (rest.method ?? 'GET').toUpperCase();
    const send = async () => {
      const headers = new Headers(rest.headers);
      headers.set('dpop', await this.proof(method, url, accessToken));
      if (accessToken !== undefined) headers.set('authorization', `DPoP ${accessToken}`);
      return fetch(url, { ...rest, headers });
    };
    const origin = new URL(url).origin;
    const before = this.#nonces.get(origin);
    const response = await send();
    const nonce = response.headers.get('dpop-nonce');
    if (nonce === null || nonce === before) return response;
    this.#nonces.set(origin, nonce);
    return (await asksForNonce(response)) ? send() : response;
  }
}

async function asksForNonce(response: Response): Promise<boolean> {
  if (response.status === 401) return /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '');
  if (response.status !== 400) return false;
  const body = (await response
    .clone()
    .json()
    .catch(() => ({}))) as { error?: unknown };
  return body.error === 'use_dpop_nonce';
}
