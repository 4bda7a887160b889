import { DpopNonces, InvalidDpopProof, InvalidGrant, sha256, type VerifiedProof, verifyDpopProof } from '@palisade/core';
import type { Store } from '@palisade/store';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';
import type { ParsedConfig } from '../config/schema.js';
import type { IdpContext } from '../context.js';

/**
 * Server nonces shared by every node through the store: a nonce one node
 * handed out is published once, so a balancer may send the retry anywhere.
 */
export function dpopNonces(config: ParsedConfig, store: Store, now: () => number): DpopNonces {
  return new DpopNonces({
    lifetime: config.dpop.nonce_lifetime,
    now,
    shared: {
      publish: async (nonce, expiresAt) => void (await store.insert('dpop_nonce', nonce, {}, { expiresAt })),
      has: async (nonce) => (await store.find('dpop_nonce', nonce)) !== undefined,
    },
  });
}

/**
 * The DPoP proof of a request to one of the IdP's endpoints (RFC 9449 §4.3),
 * or undefined when none was sent. With nonces on (the strict profile) every
 * answer, refusals included, carries the nonce to use next (§8.2). Proof
 * `jti`s are remembered in the store, so a replay is caught on any node.
 */
export async function dpopProof(
  ctx: IdpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  endpoint: string,
  accessToken?: string,
): Promise<VerifiedProof | undefined> {
  const { require_nonce: requireNonce, proof_max_age: maxAge } = ctx.realm.config.dpop;
  const nonces = requireNonce ? ctx.dpopNonces : undefined;
  if (nonces) reply.header('dpop-nonce', await nonces.current());
  return verifyDpopProof(request.headers.dpop, {
    method: request.method,
    url: endpoint,
    ...(accessToken !== undefined ? { accessToken } : {}),
    now: ctx.clock.now(),
    maxAge,
    skew: DEFAULTS.clockSkew,
    nonces,
    // Hashed: the key is attacker-chosen text and the store's ids stay short.
    remember: (key, expiresAt) => ctx.store.insert('replay', `dpop:${sha256(key)}`, {}, { expiresAt }),
  });
}

/**
 * RFC 9449 §10: a code whose request named a key (`dpop_jkt` or a proof at
 * PAR) is redeemed only with a proof by that key (SECURITY P-6); the same
 * holds for a bound refresh token or CIBA request.
 */
export function requireSameKey(bound: string | undefined, proof: VerifiedProof | undefined, what: string): void {
  if (bound === undefined) return;
  if (!proof) throw InvalidDpopProof(`a DPoP proof is required: the ${what} is bound to a key`);
  if (proof.jkt !== bound) throw InvalidGrant(`the ${what} is bound to another key`);
}
