import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import type { Clock } from '@palisade/core';
import type { Store } from '@palisade/store';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, type KeyObject } from 'jose';
import type { ParsedConfig, SigningAlgorithm } from '../config/schema.js';
import { selfSignedCertificate } from './certificate.js';

type SigningKeyMaterial = CryptoKey | KeyObject | Uint8Array;

export interface StoredSigningKey {
  /** Base64 DER of a self-signed certificate for RSA keys (SAML), also published as `x5c`. */
  certificate?: string;
  kid: string;
  alg: SigningAlgorithm;
  status: 'active' | 'retired';
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
}

export interface ActiveKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly key: SigningKeyMaterial;
}

const MODULUS_LENGTH = 2048;

/**
 * How long a retired key stays published: a server that has not reloaded yet
 * may sign with it for up to `reload_interval`, and its tokens live up to the
 * longest JWT lifetime; plus a minute of clock skew and cache slack.
 */
export function keyRetention(config: ParsedConfig): number {
  return Math.max(config.lifetimes.access_token, config.lifetimes.id_token) + config.keys.reload_interval + 60;
}

async function generate(alg: SigningAlgorithm, now: number, issuer: string): Promise<StoredSigningKey> {
  const options = alg === 'RS256' || alg === 'PS256' ? { extractable: true, modulusLength: MODULUS_LENGTH } : { extractable: true };
  const { privateKey, publicKey } = await generateKeyPair(alg, options);
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  // RS256 keys also sign SAML assertions, whose relying parties want a certificate.
  const certificate = alg === 'RS256' ? selfSignedCertificate({ privateJwk, publicJwk }, issuer, now) : undefined;
  return {
    kid,
    alg,
    status: 'active',
    privateJwk: { ...privateJwk, kid, alg },
    publicJwk: { ...publicJwk, kid, alg, use: 'sig', ...(certificate ? { x5c: [certificate] } : {}) },
    createdAt: now,
    ...(certificate ? { certificate } : {}),
  };
}

/**
 * Signing keys live in the store, so every restart and every node signs with
 * the same keys. One active key per configured algorithm; retired keys stay
 * published until every token they signed has expired.
 */
export class Keystore {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #algorithms: readonly SigningAlgorithm[];
  /** How long a retired key stays published: the longest JWT lifetime plus skew. */
  readonly #retention: number;
  readonly #issuer: string;
  #samlKey: { kid: string; privateKeyPem: string; certificate: string } | undefined;
  #active = new Map<SigningAlgorithm, ActiveKey>();
  #jwks: { keys: JWK[] } = { keys: [] };

  constructor(store: Store, clock: Clock, algorithms: readonly SigningAlgorithm[], retention: number, issuer: string) {
    this.#issuer = issuer;
    this.#store = store;
    this.#clock = clock;
    this.#algorithms = algorithms;
    this.#retention = retention;
  }

  /** Generates any missing active key, then loads all keys. Call at start-up. */
  async initialize(): Promise<void> {
    const stored = await this.#stored();
    for (const alg of this.#algorithms) {
      if (!stored.some((k) => k.alg === alg && k.status === 'active')) {
        const key = await generate(alg, this.#clock.now(), this.#issuer);
        // insert, not upsert: when two nodes start at once, both keys are kept and the newest wins.
        await this.#store.insert('signing_key', key.kid, key, { expiresAt: null });
      }
    }
    // RS256 keys created before SAML output existed get their certificate now (issue 4).
    for (const key of stored) {
      if (key.alg !== 'RS256' || key.status !== 'active' || key.certificate) continue;
      const certificate = selfSignedCertificate({ privateJwk: key.privateJwk, publicJwk: key.publicJwk }, this.#issuer, this.#clock.now());
      const upgraded: StoredSigningKey = { ...key, certificate, publicJwk: { ...key.publicJwk, x5c: [certificate] } };
      await this.#store.upsert('signing_key', key.kid, upgraded, { expiresAt: null });
    }
    await this.reload();
  }

  /** When the last reload triggered by an unknown `kid` began (periodic reloads do not count). */
  #lastKidReload = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<void> | undefined;

  /**
   * Re-reads keys when a token names a key this node has not loaded yet
   * (another node generated or rotated it moments ago), at most once per
   * `minInterval` seconds so unknown `kid`s cannot drive a reload storm.
   * Returns whether it reloaded.
   */
  async reloadIfStale(minInterval = 5): Promise<boolean> {
    // Callers arriving while a reload runs wait for it and retry with its result.
    if (this.#inFlight) {
      await this.#inFlight;
      return true;
    }
    if (this.#clock.now() - this.#lastKidReload < minInterval) return false;
    this.#lastKidReload = this.#clock.now();
    await this.reload();
    return true;
  }

  /** Re-reads keys from the store (another process may have rotated them). */
  async reload(): Promise<void> {
    this.#inFlight ??= this.#load().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #load(): Promise<void> {
    const stored = await this.#stored();
    const active = new Map<SigningAlgorithm, ActiveKey>();
    for (const key of stored) {
      if (key.status !== 'active' || !this.#algorithms.includes(key.alg)) continue;
      // Newest active key per algorithm signs; list() is oldest first.
      active.set(key.alg, { kid: key.kid, alg: key.alg, key: await importJWK(key.privateJwk, key.alg) });
    }
    this.#active = active;
    this.#jwks = { keys: stored.map((k) => k.publicJwk) };
    const saml = [...stored].reverse().find((k) => k.status === 'active' && k.alg === 'RS256' && k.certificate);
    this.#samlKey = saml?.certificate
      ? {
          kid: saml.kid,
          certificate: saml.certificate,
          privateKeyPem: createPrivateKey({ key: saml.privateJwk as JsonWebKey, format: 'jwk' })
            .export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        }
      : undefined;
  }

  /**
   * Retires the active key of each algorithm and generates a new one. Tokens
   * signed by the old keys stay verifiable: the old public keys remain in the
   * JWKS until `retention` seconds have passed.
   */
  async rotate(): Promise<string[]> {
    const now = this.#clock.now();
    const stored = await this.#stored();
    const created: string[] = [];
    for (const alg of this.#algorithms) {
      const next = await generate(alg, now, this.#issuer);
      await this.#store.insert('signing_key', next.kid, next, { expiresAt: null });
      created.push(next.kid);
      for (const old of stored.filter((k) => k.alg === alg && k.status === 'active')) {
        await this.#store.upsert('signing_key', old.kid, { ...old, status: 'retired' }, { expiresAt: now + this.#retention });
      }
    }
    await this.reload();
    return created;
  }

  /** The key that signs with `alg` now. */
  signingKey(alg: SigningAlgorithm): ActiveKey {
    const key = this.#active.get(alg);
    if (!key) throw new Error(`no active signing key for ${alg}`);
    return key;
  }

  /** The RS256 key and its certificate, for XML signatures (SAML); undefined without an RS256 key. */
  get samlSigningKey(): { kid: string; privateKeyPem: string; certificate: string } | undefined {
    return this.#samlKey;
  }

  /** The public JWK Set (RFC 7517 §5): active and retired-but-unexpired keys, never private parts. */
  get jwks(): { keys: JWK[] } {
    return this.#jwks;
  }

  async #stored(): Promise<StoredSigningKey[]> {
    return (await this.#store.list<StoredSigningKey>('signing_key')).map((r) => r.value);
  }
}
