import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh opaque value with `bytes` of entropy, base64url-encoded.
 * 32 bytes (256 bits) by default: well above the 128 bits RFC 9126 §7.1,
 * CIBA §7.3 and RFC 6749 §10.10 ask of guessable handles.
 */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** SHA-256 of a value, base64url. Stores keep this instead of the raw handle. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Constant-time comparison of two strings (hashes them first, so lengths may differ). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
