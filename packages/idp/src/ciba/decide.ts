import { randomToken } from '@palisade/core';
import type { IdpContext } from '../context.js';
import { issueForGrant } from '../grants/issue-for-grant.js';
import { createGrant } from '../tokens/create-grant.js';
import type { Grant } from '../tokens/model.js';
import { revokeGrant } from '../tokens/revoke-grant.js';
import { type CibaDecision, type CibaHandle, type CibaRequest, ownerKey, RECORD_GRACE_SECONDS, requestKey } from './model.js';
import type { DeliveryOutcome } from './notify.js';

/** How the user proved it was them when approving (RFC 8176 amr values, and the acr that follows). */
export interface Approval {
  readonly acr: string;
  readonly amr: readonly string[];
}

export type DecisionResult = 'recorded' | 'already_decided' | 'expired' | 'unknown';

/** A user's requests that still wait for a decision, oldest first; expired ones have disappeared. */
export async function pendingRequests(ctx: IdpContext, sub: string): Promise<CibaRequest[]> {
  const now = ctx.clock.now();
  const records = await ctx.store.list<CibaRequest>('ciba_request', ownerKey(sub));
  const pending: CibaRequest[] = [];
  for (const { value } of records) {
    if (value.expiresAt <= now) continue;
    if (await ctx.store.find('ciba_decision', requestKey(value.sub, value.rid))) continue;
    pending.push(value);
  }
  return pending;
}

/** The request `rid` of this user, if it exists (a device can never address another user's). */
export async function findRequest(ctx: IdpContext, sub: string, rid: string): Promise<CibaRequest | undefined> {
  return (await ctx.store.find<CibaRequest>('ciba_request', requestKey(sub, rid)))?.value;
}

/**
 * Records a final decision: insert-or-refuse on the decision record, so of
 * an approval and a denial racing (two devices, two nodes) exactly one
 * counts, and neither can be changed afterwards. Then the client hears of it.
 */
async function decide(ctx: IdpContext, request: CibaRequest, decision: CibaDecision): Promise<DecisionResult> {
  const key = requestKey(request.sub, request.rid);
  const kept = { expiresAt: request.expiresAt + RECORD_GRACE_SECONDS };
  const recorded = await ctx.store.insert('ciba_decision', key, decision, kept);
  if (!recorded) return 'already_decided';
  // The outbox: if this node stops before the client is told, another node's sweep tells it.
  if (request.notification) await ctx.store.insert<OutboxEntry>('ciba_outbox', key, { requestKey: key }, kept);
  ctx.log.info(
    {
      event: `ciba.${decision.outcome}`,
      client: request.clientId,
      request: request.rid,
      ...('acr' in decision ? { acr: decision.acr } : {}),
    },
    'CIBA decision',
  );
  ctx.audit.record(
    {
      event: `ciba.${decision.outcome}`,
      outcome: decision.outcome === 'approved' ? 'success' : 'failure',
      ...(decision.outcome === 'approved' ? {} : { reason: decision.outcome }),
      sub: request.sub,
      client: request.clientId,
      ...(request.traceId ? { trace_id: request.traceId } : {}),
      ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
      data: { request: request.rid, ...('acr' in decision ? { acr: decision.acr, amr: [...decision.amr] } : {}) },
    },
    ctx.request,
  );
  ctx.backchannel.changed(request.sub);
  if (request.notification) void deliverOutcome(ctx, request, decision);
  return 'recorded';
}

interface OutboxEntry {
  readonly requestKey: string;
}

/** Seconds after which an undelivered notification is taken over by a sweep (longer than a node's own retries take). */
const OUTBOX_STALE_SECONDS = 60;

/**
 * Tells the client, then forgets what that took: the outbox entry, and the
 * raw auth_req_id and notification token kept for the purpose (ADR 0007).
 * A delivery cut short by shutdown leaves both for another node.
 */
async function deliverOutcome(ctx: IdpContext, request: CibaRequest, decision: CibaDecision): Promise<void> {
  const key = requestKey(request.sub, request.rid);
  try {
    if ((await notifyClient(ctx, request, decision)) === 'aborted') return;
    await ctx.store.delete('ciba_outbox', key);
    const { notification: _secrets, ...rest } = request;
    await ctx.store.upsert<CibaRequest>(
      'ciba_request',
      key,
      { ...rest, notification: undefined },
      {
        expiresAt: request.expiresAt + RECORD_GRACE_SECONDS,
      },
    );
  } catch (error) {
    ctx.log.error({ event: 'ciba.notification_failed', request: request.rid, err: String(error) }, 'CIBA notification failed');
  }
}

/** Notifications a stopped node left in the outbox, delivered by whichever node claims them first. */
export async function redeliverStale(ctx: IdpContext): Promise<number> {
  const stale = ctx.clock.now() - OUTBOX_STALE_SECONDS;
  let taken = 0;
  for (const entry of await ctx.store.list<OutboxEntry>('ciba_outbox')) {
    if (entry.createdAt > stale || entry.consumedAt !== null) continue;
    if (!(await ctx.store.consume('ciba_outbox', entry.id))?.first) continue;
    const request = (await ctx.store.find<CibaRequest>('ciba_request', entry.value.requestKey))?.value;
    const decision = (await ctx.store.find<CibaDecision>('ciba_decision', entry.value.requestKey))?.value;
    if (!request || !decision) continue;
    ctx.log.info({ event: 'ciba.notification_resumed', client: request.clientId, request: request.rid }, 'CIBA notification resumed');
    await deliverOutcome(ctx, request, decision);
    taken++;
  }
  return taken;
}

/**
 * The user approved. The grant (what the tokens hang off) is created here,
 * with the approval's acr and amr and the details the user saw (CIBA §10.1.1:
 * the tokens reflect this authentication).
 */
export async function approve(ctx: IdpContext, request: CibaRequest, approval: Approval): Promise<DecisionResult> {
  const now = ctx.clock.now();
  if (request.expiresAt <= now) return 'expired';
  return decide(ctx, request, { outcome: 'approved', at: now, grantId: randomToken(16), acr: approval.acr, amr: approval.amr });
}

export async function deny(ctx: IdpContext, request: CibaRequest): Promise<DecisionResult> {
  if (request.expiresAt <= ctx.clock.now()) return 'expired';
  return decide(ctx, request, { outcome: 'denied', at: ctx.clock.now() });
}

/** Marks a request expired once its time is up, so ping and push clients hear of it (one node wins). */
export async function expire(ctx: IdpContext, request: CibaRequest): Promise<DecisionResult> {
  if (request.expiresAt > ctx.clock.now()) return 'unknown';
  return decide(ctx, request, { outcome: 'expired', at: ctx.clock.now() });
}

/** Every request past its expiry without a decision, across the store (a fallback for timers lost to a restart). */
export async function expireDue(ctx: IdpContext): Promise<number> {
  const now = ctx.clock.now();
  let expired = 0;
  for (const { value } of await ctx.store.list<CibaRequest>('ciba_request')) {
    if (value.expiresAt > now || (await ctx.store.find('ciba_decision', requestKey(value.sub, value.rid)))) continue;
    if ((await expire(ctx, value)) === 'recorded') expired++;
  }
  return expired;
}

/**
 * The grant an approval stands for. Made when the tokens are first issued
 * (poll, ping) or pushed, lasting as long as refresh tokens may, or the
 * access token when the client cannot refresh.
 */
async function grantFor(
  ctx: IdpContext,
  request: CibaRequest,
  decision: CibaDecision & { outcome: 'approved' },
): Promise<{ grant: Grant; expiresAt: number }> {
  const client = ctx.realm.clients.get(request.clientId);
  const grant: Grant = {
    clientId: request.clientId,
    sub: request.sub,
    scope: request.scope,
    resource: request.resource,
    authTime: decision.at,
    acr: decision.acr,
    amr: decision.amr,
    sessionId: undefined,
    ...(request.authorizationDetails ? { authorizationDetails: request.authorizationDetails } : {}),
  };
  const { lifetimes } = ctx.realm.config;
  // Linked to the consent for this client: withdrawing it revokes approvals too (SECURITY R6).
  const lifetime = client?.grantTypes.has('refresh_token') ? lifetimes.refresh_token : lifetimes.access_token;
  return { grant, expiresAt: await createGrant(ctx, decision.grantId, grant, lifetime) };
}

/** The token response for an approved request, issued once: the handle is consumed first. */
export async function redeem(
  ctx: IdpContext,
  request: CibaRequest,
  decision: CibaDecision & { outcome: 'approved' },
  options: { pushedFor?: string; jkt?: string | undefined } = {},
) {
  const client = ctx.realm.clients.get(request.clientId);
  if (!client) return undefined;
  const consumed = await ctx.store.consume<CibaHandle>('ciba_handle', request.handle);
  if (!consumed?.first) return undefined;
  const { grant, expiresAt } = await grantFor(ctx, request, decision);
  return issueForGrant(ctx, {
    client,
    grantId: decision.grantId,
    grant,
    grantExpiresAt: expiresAt,
    scope: request.scope,
    authorizationDetails: request.authorizationDetails,
    ...(options.pushedFor ? { pushedFor: options.pushedFor } : {}),
    // Push: bound to the key of the proof that came with the request; poll and ping: to the token request's.
    jkt: options.jkt ?? request.dpopJkt,
  });
}

/**
 * Tells a ping or push client of the outcome (CIBA §10.2, §10.3, §12). Ping
 * carries only the auth_req_id, for approvals and failures alike: the client
 * learns which at the token endpoint. Push carries the tokens themselves, or
 * the error. Poll clients are not called.
 */
async function notifyClient(ctx: IdpContext, request: CibaRequest, decision: CibaDecision): Promise<DeliveryOutcome | undefined> {
  const client = ctx.realm.clients.get(request.clientId);
  const notification = request.notification;
  if (!client?.notificationEndpoint || !notification || client.deliveryMode === 'poll') return undefined;
  const authReqId = notification.authReqId;
  const target = {
    clientId: client.id,
    rid: request.rid,
    sub: request.sub,
    traceId: request.traceId,
    endpoint: client.notificationEndpoint,
    token: notification.token,
  };
  if (client.deliveryMode === 'ping') return ctx.backchannel.notifier.deliver(target, 'ping', { auth_req_id: authReqId });
  if (decision.outcome === 'approved') {
    const tokens = await redeem(ctx, request, decision, { pushedFor: authReqId });
    if (!tokens) {
      // Consumed already: a node that stopped mid-push. Whether the client got the tokens is unknown.
      ctx.log.warn({ event: 'ciba.push_unknown', client: client.id, request: request.rid }, 'CIBA push outcome unknown');
      return undefined;
    }
    const outcome = await ctx.backchannel.notifier.deliver(target, 'push', { auth_req_id: authReqId, ...tokens });
    if (outcome === 'refused' || outcome === 'abandoned') {
      // Tokens nobody received must not stay valid: nobody can fetch them later (push clients cannot poll).
      await revokeGrant(ctx.store, decision.grantId);
      ctx.log.warn({ event: 'ciba.push_revoked', client: client.id, request: request.rid }, 'undelivered CIBA tokens revoked');
      ctx.audit.record(
        {
          event: 'grant.revoked',
          outcome: 'success',
          reason: 'push_undelivered',
          sub: request.sub,
          client: client.id,
          ...(request.traceId ? { trace_id: request.traceId } : {}),
          data: { grant_id: decision.grantId, cause: 'push_undelivered', request: request.rid },
        },
        ctx.request,
      );
    }
    return outcome;
  }
  const error =
    decision.outcome === 'denied'
      ? { error: 'access_denied', error_description: 'the user denied the request' }
      : { error: 'expired_token', error_description: 'the request expired before the user decided' };
  return ctx.backchannel.notifier.deliver(target, 'push_error', { auth_req_id: authReqId, ...error });
}
