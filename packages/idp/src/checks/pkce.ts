import { createHash } from 'node:crypto';
import { InvalidGrant, InvalidRequest, safeEqual } from '@palisade/core';

/** RFC 7636 §4.1/§4.2: 43 to 128 characters from the unreserved set. */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * Authorization request side: a challenge is required for every client and
 * only S256 is accepted (OAuth 2.1 §4.1.1, FAPI 2.0; SECURITY A5–A7).
 */
export function checkCodeChallenge(challenge: string | undefined, method: string | undefined): string {
  if (challenge === undefined) throw InvalidRequest('code_challenge is required (PKCE)');
  if (method !== 'S256') throw InvalidRequest('code_challenge_method must be S256');
  if (!PKCE_VALUE.test(challenge)) throw InvalidRequest('code_challenge is malformed');
  return challenge;
}

/**
 * Token request side (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) must equal
 * the stored challenge. A verifier without a stored challenge is refused too
 * (RFC 9700 §4.8.2, SECURITY T5), though Palisade never issues such a code.
 */
export function checkCodeVerifier(verifier: string | undefined, challenge: string | undefined): void {
  if (challenge === undefined) {
    if (verifier !== undefined) throw InvalidGrant('code_verifier sent but no code_challenge was made');
    return;
  }
  if (verifier === undefined) throw InvalidGrant('code_verifier is required');
  if (!PKCE_VALUE.test(verifier)) throw InvalidGrant('code_verifier is malformed');
  const computed = createHash('sha256').update(verifier).digest('base64url');
  if (!safeEqual(computed, challenge)) throw InvalidGrant('code_verifier does not match the code_challenge');
}
