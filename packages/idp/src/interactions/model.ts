import type { AuthorizationDetail } from '@palisade/core';

/** A validated authorization request, waiting for the user (OAuth 2.1 §4.1.1). */
export interface AuthorizationRequest {
  readonly clientId: string;
  /** Where the response goes: the requested URI, or the client's only one. */
  readonly redirectUri: string;
  /** Whether redirect_uri was sent; if so the token request must repeat it. */
  readonly redirectUriSent: boolean;
  readonly state: string | undefined;
  readonly scope: readonly string[];
  readonly resource: string | undefined;
  readonly codeChallenge: string;
  readonly nonce: string | undefined;
  readonly prompt: readonly string[];
  readonly maxAge: number | undefined;
  /** RFC 9396: what exactly is asked for; only ever set through PAR. */
  readonly authorizationDetails: readonly AuthorizationDetail[] | undefined;
  /** RFC 9449 §10: the DPoP key the code is bound to. */
  readonly dpopJkt?: string;
}

/** The state of one browser's trip through login, MFA and consent. */
export interface Interaction {
  readonly request: AuthorizationRequest;
  /** SHA-256 of the cookie that binds this interaction to the browser that started it. */
  readonly browserBinding: string;
  /** Anti-CSRF token embedded in every form of this interaction (RFC 9700 §4.7). */
  readonly csrf: string;
  /** The user who passed the password step and still owes a TOTP code. */
  readonly pendingSub?: string;
  /** prompt=login / max_age were satisfied within this interaction. */
  readonly loginDone?: boolean;
}

/** An SSO session (OIDC Core §3.1.2.3): who is signed in to this browser, and how. */
export interface Session {
  readonly sub: string;
  /** Public session id, the `sid` claim; the cookie value is never stored. */
  readonly sid: string;
  readonly authTime: number;
  readonly acr: string;
  readonly amr: readonly string[];
  /** Anti-CSRF token of forms that act on the session itself (logout). */
  readonly csrf: string;
}

export interface Consent {
  readonly scope: readonly string[];
  readonly resources: readonly string[];
  /** Details the user approved for this client; a later request they cover needs no new consent. */
  readonly authorizationDetails?: readonly AuthorizationDetail[];
}

export const ACR = {
  password: 'urn:palisade:acr:pwd',
  mfa: 'urn:palisade:acr:mfa',
  /** Approved on the authentication device with a fresh second factor (CIBA); payments asks for this. */
  ciba: 'urn:palisade:acr:ciba',
} as const;
