import type { AuthorizationDetail } from '@palisade/core';
import type { Actor } from './act.js';

/**
 * What the store keeps for each kind of grant artefact. Raw codes and refresh
 * tokens are never stored: records are keyed by their SHA-256.
 */

/** An authorization a user (or, for client_credentials, nobody) gave a client. Tokens hang off it. */
export interface Grant {
  readonly clientId: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly resource: string | undefined;
  readonly authTime: number;
  readonly acr: string;
  readonly amr: readonly string[];
  readonly sessionId: string | undefined;
  /** Set on grants made by token exchange: the chain every token of the grant carries. */
  readonly act?: Actor;
  /** RFC 9396: the details the user approved; tokens carry these or a subset. */
  readonly authorizationDetails?: readonly AuthorizationDetail[];
}

export interface AuthorizationCodeRecord {
  readonly grantId: string;
  readonly clientId: string;
  /** The redirect_uri sent in the authorization request, or null if it was omitted. */
  readonly redirectUri: string | null;
  readonly codeChallenge: string;
  readonly nonce: string | undefined;
  /** RFC 9449 §10: the key the code must be redeemed with (`dpop_jkt` or a proof at PAR). */
  readonly dpopJkt?: string;
}

export interface RefreshTokenRecord {
  readonly grantId: string;
  readonly clientId: string;
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key. */
  readonly jkt?: string;
}

export interface AccessTokenRecord {
  readonly clientId: string;
  readonly sub: string;
  readonly grantId: string | null;
  /** The `jti` of the subject token this one was exchanged from: revoking it revokes this one too. */
  readonly derivedFrom?: string;
  /** RFC 9449 §6: the thumbprint of the key the token is bound to. */
  readonly jkt?: string;
  /** SHA-256 of the token as issued: the IdP recognizes its own tokens by it (ADR 0011). */
  readonly tokenHash?: string;
}

/** Claims of a Palisade access token (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly client_id: string;
  readonly scope?: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly auth_time?: number;
  readonly acr?: string;
  readonly amr?: string[];
  readonly authorization_details?: AuthorizationDetail[];
  /** RFC 8693 §4.1: who acts for `sub`, current actor first. */
  readonly act?: Actor;
  /** RFC 8693 §4.4: who may act for `sub` with this token (the client of its audience). */
  readonly may_act?: { readonly sub: string };
  /** RFC 9449 §6.1: the key a DPoP-bound token is bound to. */
  readonly cnf?: { readonly jkt: string };
}

export type TokenResponse = {
  access_token: string;
  /** N_A for tokens that are not access tokens (RFC 8693 §2.2.1: SAML assertions, ID tokens). */
  token_type: 'Bearer' | 'DPoP' | 'N_A';
  issued_token_type?: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
  authorization_details?: AuthorizationDetail[];
};
