/**
 * One error type for every OAuth / OpenID protocol failure.
 *
 * `error` is the registered code (RFC 6749 §5.2, RFC 6750 §3.1, RFC 8707 §2,
 * RFC 9126 §2.3, RFC 9396 §5, OpenID Connect Core §3.1.2.6). `description` is
 * public and must never contain a token, secret or raw input; `detail` is for
 * logs only and is never sent to the peer.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_request_uri'
  | 'request_not_supported'
  | 'insufficient_user_authentication'
  | 'invalid_authorization_details'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'not_found'
  // OpenID Connect CIBA Core 1.0 §13 (authentication request) and §11 (token request).
  | 'unknown_user_id'
  | 'expired_login_hint_token'
  | 'missing_user_code'
  | 'invalid_user_code'
  | 'invalid_binding_message'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'transaction_failed';

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly detail: string | undefined;

  constructor(error: OAuthErrorCode, status: number, description: string, detail?: string) {
    super(description);
    this.error = error;
    this.status = status;
    this.description = description;
    this.detail = detail;
  }

  /** The body RFC 6749 §5.2 prescribes. */
  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

type ErrorFactory = (description: string, detail?: string) => OAuthError;

function oauthError(error: OAuthErrorCode, status: number): ErrorFactory {
  return (description, detail) => new OAuthError(error, status, description, detail);
}

export const InvalidRequest = oauthError('invalid_request', 400);
// RFC 6749 §5.2: 401 with WWW-Authenticate when the client tried to authenticate.
export const InvalidClient = oauthError('invalid_client', 401);
export const InvalidGrant = oauthError('invalid_grant', 400);
export const UnauthorizedClient = oauthError('unauthorized_client', 400);
export const UnsupportedGrantType = oauthError('unsupported_grant_type', 400);
export const UnsupportedResponseType = oauthError('unsupported_response_type', 400);
export const UnsupportedTokenType = oauthError('unsupported_token_type', 400);
export const InvalidScope = oauthError('invalid_scope', 400);
export const InvalidTarget = oauthError('invalid_target', 400);
export const InvalidToken = oauthError('invalid_token', 401);
export const InsufficientScope = oauthError('insufficient_scope', 403);
export const AccessDenied = oauthError('access_denied', 400);
export const LoginRequired = oauthError('login_required', 400);
export const ConsentRequired = oauthError('consent_required', 400);
export const InvalidRequestUri = oauthError('invalid_request_uri', 400);
// OIDC Core §3.1.2.6: request objects (JAR) are not accepted here.
export const RequestNotSupported = oauthError('request_not_supported', 400);
export const InvalidAuthorizationDetails = oauthError('invalid_authorization_details', 400);
export const MethodNotAllowed = oauthError('method_not_allowed', 405);
export const PayloadTooLarge = oauthError('payload_too_large', 413);
export const NotFound = oauthError('not_found', 404);
export const ServerError = oauthError('server_error', 500);
export const UnknownUserId = oauthError('unknown_user_id', 400);
export const ExpiredLoginHintToken = oauthError('expired_login_hint_token', 400);
export const MissingUserCode = oauthError('missing_user_code', 400);
export const InvalidUserCode = oauthError('invalid_user_code', 400);
export const InvalidBindingMessage = oauthError('invalid_binding_message', 400);
export const AuthorizationPending = oauthError('authorization_pending', 400);
export const SlowDown = oauthError('slow_down', 400);
export const ExpiredToken = oauthError('expired_token', 400);
/** CIBA §13: at the backchannel authentication endpoint, access_denied is 403. */
export const BackchannelAccessDenied = oauthError('access_denied', 403);

/**
 * Turns anything thrown into an OAuthError. Unknown failures become
 * `server_error` with a fixed description, so no stack or message leaks.
 */
export function toOAuthError(thrown: unknown): OAuthError {
  if (thrown instanceof OAuthError) return thrown;
  const detail = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
  return ServerError('The server could not complete the request.', detail);
}
