import { decodeJwt } from 'jose';

/**
 * A string claim of something shaped like a JWT, read WITHOUT verifying it.
 * Only for finding what to verify against or look up (which client's keys,
 * which store record); the answer is never trusted by itself.
 */
export function unverifiedClaim(token: string, name: 'iss' | 'jti'): string | undefined {
  try {
    const value = decodeJwt(token)[name];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
