import { type AuthorizationDetail, covers, InsufficientScope, OAuthError } from '@palisade/core';
import type { VerifiedToken } from './verify.js';

/** An insufficient_scope error that says what would have been enough (RFC 6750 §3.1, RFC 9396 §10). */
export class InsufficientAuthorization extends OAuthError {
  readonly requiredDetails: readonly AuthorizationDetail[];
  readonly requiredScope: readonly string[];
  constructor(description: string, required: { details?: readonly AuthorizationDetail[]; scope?: readonly string[] }) {
    const base = InsufficientScope(description);
    super(base.error, base.status, base.description);
    this.requiredDetails = required.details ?? [];
    this.requiredScope = required.scope ?? [];
  }
}

/**
 * Enforces that the token authorizes exactly this action: one of its
 * `authorization_details` covers `required` (the shared `covers`, exact and
 * case-sensitive), else 403 `insufficient_scope` naming what is needed
 * (SECURITY M7). A scope alone (`tools.access`) never covers a detail.
 *
 * @example
 * requireDetail(token, { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' });
 */
export function requireDetail(token: VerifiedToken, required: AuthorizationDetail): void {
  if (!covers(token.authorizationDetails, required)) {
    throw new InsufficientAuthorization('the token does not authorize this action', { details: [required] });
  }
}

/** Enforces a scope (RFC 6750 §3.1). */
export function requireScope(token: VerifiedToken, scope: string): void {
  if (!token.scope.includes(scope)) throw new InsufficientAuthorization('the token lacks a required scope', { scope: [scope] });
}
