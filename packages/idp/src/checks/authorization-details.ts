import { type AuthorizationDetail, InvalidAuthorizationDetails, withinGrant } from '@palisade/core';
import type { IdpContext } from '../context.js';
import { parseAuthorizationDetails } from '../rar/limits.js';
import type { Client } from '../realm.js';

/**
 * RFC 9396 §6.1–6.2: a token request may name `authorization_details` to get
 * a token for a subset of what was granted; anything the grant does not cover
 * is `invalid_authorization_details` (SECURITY R5). Without the parameter the
 * token carries the whole grant.
 */
export function narrowDetails(
  ctx: IdpContext,
  client: Client,
  granted: readonly AuthorizationDetail[] | undefined,
  raw: string | undefined,
): readonly AuthorizationDetail[] | undefined {
  if (raw === undefined) return granted;
  const requested = ctx.realm.detailTypes.validate(parseAuthorizationDetails(raw) ?? [], client);
  if (!withinGrant(granted ?? [], requested)) throw InvalidAuthorizationDetails('authorization_details exceed what was granted');
  return requested;
}
