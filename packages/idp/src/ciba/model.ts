import type { AuthorizationDetail } from '@palisade/core';

/**
 * One backchannel authentication request (OpenID Connect CIBA Core 1.0),
 * waiting for the user. Stored under `ownerKey(sub)/rid`, so the device can
 * list a user's requests by prefix and can only ever address its own user's.
 * The `auth_req_id` itself is a bearer handle: only its SHA-256 is kept (in
 * a `ciba_handle` record that points here).
 */
export interface CibaRequest {
  /** Public id the device uses; not the auth_req_id. */
  readonly rid: string;
  readonly clientId: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly resource: string | undefined;
  readonly authorizationDetails: readonly AuthorizationDetail[] | undefined;
  readonly bindingMessage: string | undefined;
  /** acr_values the client asked for, in order of preference (CIBA §7.1). */
  readonly acrValues: readonly string[];
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The trace of the agent's request: every later event of this request joins it. */
  readonly traceId?: string | undefined;
  /** The auth_req_id's SHA-256: the key of its handle record. */
  readonly handle: string;
  /**
   * Ping and push only: what the notification needs. The auth_req_id is kept
   * here because it must be sent back; it redeems nothing without the
   * client's own credentials (CIBA §7.3, bound to the client).
   */
  readonly notification: { readonly token: string; readonly authReqId: string } | undefined;
  /** RFC 9449: the key of the DPoP proof sent with the request; the tokens are bound to it. */
  readonly dpopJkt?: string | undefined;
}

/** The redeemable side of a request, keyed by SHA-256(auth_req_id): who may redeem it and the poll pacing. */
export interface CibaHandle {
  readonly requestKey: string;
  readonly clientId: string;
  /** Seconds between polls for this request; slow_down adds 5 (CIBA §11). */
  readonly interval: number;
  /** Wall-clock milliseconds of the last poll, if any. */
  readonly lastPollMs?: number;
}

/** The user's final word on a request; written once (insert-or-refuse), so approve and deny cannot both win. */
export type CibaDecision =
  | {
      readonly outcome: 'approved';
      readonly at: number;
      readonly grantId: string;
      readonly acr: string;
      readonly amr: readonly string[];
    }
  | { readonly outcome: 'denied'; readonly at: number }
  | { readonly outcome: 'expired'; readonly at: number };

/** The owner part of a request key: a sub made safe to use as a prefix (no `/` inside). */
export function ownerKey(sub: string): string {
  return `${encodeURIComponent(sub)}/`;
}

export function requestKey(sub: string, rid: string): string {
  return ownerKey(sub) + rid;
}

/** How long records outlive a request's expiry, so a late poll still hears `expired_token` rather than `invalid_grant`. */
export const RECORD_GRACE_SECONDS = 600;
