import {
  AccessDenied,
  AuthorizationPending,
  ExpiredToken,
  InvalidGrant,
  InvalidRequest,
  SlowDown,
  sha256,
  UnauthorizedClient,
} from '@palisade/core';
import { redeem } from '../ciba/decide.js';
import { type CibaDecision, type CibaHandle, type CibaRequest, RECORD_GRACE_SECONDS } from '../ciba/model.js';
import { CIBA } from '../config/schema.js';
import { requireSameKey } from '../dpop/proof.js';
import type { GrantHandler } from './grant.js';

const parameters = ['auth_req_id'] as const;
/** CIBA §11: each slow_down adds this many seconds to the request's interval. */
const SLOW_DOWN_STEP = 5;
/** Timer jitter allowance: a poll this close to the interval is on time. */
const PACING_SLACK_MS = 50;

/**
 * The CIBA grant (CIBA §10.1): a poll or ping client redeems its
 * auth_req_id. Until the user decides: `authorization_pending`, or
 * `slow_down` (and a longer interval) when polled too fast; then
 * `access_denied`, `expired_token`, or the tokens exactly once (SECURITY
 * C4, C5). An auth_req_id of another client is `invalid_grant`, the same
 * answer as one that never existed.
 */
export const cibaGrant: GrantHandler<(typeof parameters)[number]> = {
  grantType: CIBA,
  parameters,
  async handle(ctx, client, params, _body, proof) {
    if (params.auth_req_id === undefined) throw InvalidRequest('auth_req_id is required');
    if (client.deliveryMode === 'push') throw UnauthorizedClient('a push-mode client receives its tokens at its notification endpoint');
    const id = sha256(params.auth_req_id);
    const handle = await ctx.store.find<CibaHandle>('ciba_handle', id);
    if (!handle || handle.value.clientId !== client.id) throw InvalidGrant('the auth_req_id is invalid');
    if (handle.consumedAt !== null) throw InvalidGrant('the auth_req_id was already redeemed');
    const found = await ctx.store.find<CibaRequest>('ciba_request', handle.value.requestKey);
    if (!found) throw InvalidGrant('the auth_req_id is invalid');
    const request = found.value;
    const decision = (await ctx.store.find<CibaDecision>('ciba_decision', handle.value.requestKey))?.value;
    // CIBA §7.3: expires_in is the life of the auth_req_id itself; an approval does not extend it.
    if (decision?.outcome === 'expired' || request.expiresAt <= ctx.clock.now()) throw ExpiredToken('the request expired');

    // A request made with a DPoP proof is redeemed with the same key (RFC 9449 §10 by analogy; ADR 0010).
    requireSameKey(request.dpopJkt, proof, 'request');
    if (decision?.outcome === 'approved') {
      const tokens = await redeem(ctx, request, decision, { jkt: proof?.jkt });
      if (!tokens) throw InvalidGrant('the auth_req_id was already redeemed');
      return tokens;
    }
    if (decision?.outcome === 'denied') throw AccessDenied('the user denied the request');

    // Pacing in wall-clock milliseconds: whole seconds would turn a poll exactly `interval` later into a slow_down.
    const nowMs = Date.now();
    const { lastPollMs, interval } = handle.value;
    const tooSoon = lastPollMs !== undefined && nowMs - lastPollMs < interval * 1000 - PACING_SLACK_MS;
    const next: CibaHandle = { ...handle.value, lastPollMs: nowMs, interval: tooSoon ? interval + SLOW_DOWN_STEP : interval };
    await ctx.store.upsert('ciba_handle', id, next, { expiresAt: request.expiresAt + RECORD_GRACE_SECONDS });
    if (tooSoon) throw SlowDown(`polling too fast; wait at least ${next.interval} seconds between requests`);
    throw AuthorizationPending('the user has not decided yet');
  },
};
