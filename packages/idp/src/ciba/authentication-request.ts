import {
  type AuthorizationDetail,
  BackchannelAccessDenied,
  InvalidBindingMessage,
  InvalidRequest,
  InvalidScope,
  InvalidUserCode,
  MissingUserCode,
  randomToken,
  sha256,
  UnauthorizedClient,
} from '@palisade/core';
import { audienceFor, checkResource } from '../checks/resource.js';
import { checkScope, checkScopeAudience } from '../checks/scope.js';
import { CIBA } from '../config/schema.js';
import type { IdpContext } from '../context.js';
import { readParams, splitScope } from '../http/params.js';
import { verifySecret } from '../interactions/credentials.js';
import { clearFailures, reserveAttempt } from '../interactions/login-failures.js';
import { ACR } from '../interactions/model.js';
import { parseAuthorizationDetails } from '../rar/limits.js';
import type { Client, User } from '../realm.js';
import { resolveHint } from './hints.js';
import { type CibaHandle, type CibaRequest, RECORD_GRACE_SECONDS, requestKey } from './model.js';

export const BACKCHANNEL_PARAMETERS = [
  'scope',
  'client_notification_token',
  'acr_values',
  'login_hint_token',
  'id_token_hint',
  'login_hint',
  'binding_message',
  'user_code',
  'requested_expiry',
  'authorization_details',
  'request',
] as const;

/** CIBA §7.1: the notification token is a bearer credential of at most 1024 characters. */
const MAX_NOTIFICATION_TOKEN = 1024;
/** RFC 6750 §2.1 b64token: what can be sent back in `Authorization: Bearer`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Unicode "other" (controls, format characters, unassigned, private use, surrogates): never shown on a device. */
const UNPRINTABLE = /\p{C}/u;
/** What a device can show as the level of an approval, strongest first. */
const KNOWN_ACR = new Set<string>([ACR.ciba, ACR.mfa, ACR.password]);

export interface BackchannelResponse {
  readonly auth_req_id: string;
  readonly expires_in: number;
  readonly interval?: number;
}

/** CIBA §7.1 binding_message: short and printable, else `invalid_binding_message` (SECURITY C2). */
function checkBindingMessage(ctx: IdpContext, message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  const max = ctx.realm.config.ciba.binding_message_max_length;
  if ([...message].length > max) throw InvalidBindingMessage(`binding_message must be at most ${max} characters`);
  if (UNPRINTABLE.test(message) || message.trim() !== message) {
    throw InvalidBindingMessage('binding_message must be printable text without leading or trailing spaces');
  }
  return message;
}

function checkExpiry(ctx: IdpContext, requested: string | undefined): number {
  const { default_expiry: fallback, max_expiry: max } = ctx.realm.config.ciba;
  if (requested === undefined) return Math.min(fallback, max);
  if (!/^[0-9]{1,6}$/.test(requested) || Number(requested) < 1 || Number(requested) > max) {
    throw InvalidRequest(`requested_expiry must be a whole number of seconds from 1 to ${max}`);
  }
  return Number(requested);
}

/**
 * CIBA §7.1 acr_values: known values only. A user without a second factor
 * can approve at the password level only; a request that insists on more
 * cannot be met and is refused now, not after bothering the user.
 */
function checkAcrValues(acrValues: string | undefined, user: User): string[] {
  const values = splitScope(acrValues);
  if (values.some((value) => !KNOWN_ACR.has(value))) throw InvalidRequest('acr_values names an unsupported authentication context');
  if (values.length > 0 && !user.totpSecret && !values.includes(ACR.password)) {
    throw BackchannelAccessDenied('the user cannot approve at the requested authentication level');
  }
  return values;
}

/**
 * CIBA §7.1 user_code: required for a user who set one (SECURITY C3). Wrong
 * codes count towards the same kind of lockout as passwords, so it cannot be
 * guessed through the back channel.
 */
async function checkUserCode(ctx: IdpContext, client: Client, user: User, userCode: string | undefined): Promise<void> {
  if (!user.userCodeHash) return;
  if (userCode === undefined) throw MissingUserCode('this user requires a user_code');
  // Counted per client and user: one misbehaving agent cannot lock the code for the others.
  const counter = `${client.id}/${user.username}`;
  const refuse = (reason: string) => {
    ctx.log.warn({ event: 'ciba.user_code_refused', client: client.id, user: sha256(user.sub).slice(0, 16), reason }, 'user_code refused');
    ctx.audit.record(
      { event: 'ciba.user_code_refused', outcome: 'failure', reason, sub: user.sub, client: client.id, data: { reason } },
      ctx.request,
    );
    return InvalidUserCode('the user_code is not valid');
  };
  if (userCode.length > 256) throw refuse('too long');
  if (!(await reserveAttempt(ctx, 'user_code', counter))) throw refuse('locked');
  if (!(await verifySecret(user.userCodeHash, userCode))) throw refuse('wrong');
  await clearFailures(ctx, 'user_code', counter);
}

/**
 * A backchannel authentication request (CIBA §7.1), checked in full before
 * anything reaches the user's device; then stored, pending, with a fresh
 * auth_req_id of 256 bits bound to this client (CIBA §7.3, SECURITY C4).
 */
export async function startBackchannelAuthentication(
  ctx: IdpContext,
  client: Client,
  body: URLSearchParams,
  dpopJkt?: string,
): Promise<{ response: BackchannelResponse; request: CibaRequest }> {
  if (!client.grantTypes.has(CIBA) || !client.deliveryMode) throw UnauthorizedClient('the client may not use CIBA');
  const p = readParams(body, BACKCHANNEL_PARAMETERS);
  if (p.request !== undefined) throw InvalidRequest('signed authentication requests are not supported');
  if (p.scope === undefined) throw InvalidRequest('scope is required');
  const scope = checkScope(client, splitScope(p.scope));
  if (!scope.includes('openid')) throw InvalidScope('scope must include openid (CIBA §7.1)');
  const resource = checkResource(ctx.realm, client, body.getAll('resource'));
  checkScopeAudience(ctx.realm, scope, audienceFor(ctx.realm, client, resource));

  const notifies = client.deliveryMode !== 'poll';
  const notificationToken = p.client_notification_token;
  if (notifies && notificationToken === undefined)
    throw InvalidRequest(`client_notification_token is required in ${client.deliveryMode} mode`);
  if (notifies && (notificationToken as string).length > MAX_NOTIFICATION_TOKEN) {
    throw InvalidRequest(`client_notification_token must be at most ${MAX_NOTIFICATION_TOKEN} characters`);
  }
  if (notifies && !B64TOKEN.test(notificationToken as string)) {
    throw InvalidRequest('client_notification_token must be a bearer token (RFC 6750 §2.1 b64token)');
  }
  const bindingMessage = checkBindingMessage(ctx, p.binding_message);
  const lifetime = checkExpiry(ctx, p.requested_expiry);
  let authorizationDetails: AuthorizationDetail[] | undefined;
  const parsed = parseAuthorizationDetails(p.authorization_details);
  if (parsed) authorizationDetails = ctx.realm.detailTypes.validate(parsed, client);

  const user = await resolveHint(ctx, client, p);
  const acrValues = checkAcrValues(p.acr_values, user);
  // RFC 9396 §6: the same policy as at the authorization endpoint, for this user.
  if (authorizationDetails) ctx.realm.detailPolicy.check(authorizationDetails, client, user);
  await checkUserCode(ctx, client, user, p.user_code);

  const now = ctx.clock.now();
  const authReqId = randomToken(32);
  const request: CibaRequest = {
    rid: randomToken(16),
    clientId: client.id,
    sub: user.sub,
    scope,
    resource,
    authorizationDetails,
    bindingMessage,
    acrValues,
    createdAt: now,
    expiresAt: now + lifetime,
    handle: sha256(authReqId),
    traceId: ctx.request?.traceId,
    notification: notifies ? { token: notificationToken as string, authReqId } : undefined,
    ...(dpopJkt ? { dpopJkt } : {}),
  };
  const kept = { expiresAt: request.expiresAt + RECORD_GRACE_SECONDS };
  const interval = ctx.realm.config.ciba.interval;
  await ctx.store.insert<CibaRequest>('ciba_request', requestKey(user.sub, request.rid), request, kept);
  await ctx.store.insert<CibaHandle>(
    'ciba_handle',
    request.handle,
    { requestKey: requestKey(user.sub, request.rid), clientId: client.id, interval },
    kept,
  );
  return {
    request,
    response: {
      auth_req_id: authReqId,
      expires_in: lifetime,
      // CIBA §7.3: the interval matters to clients that poll (poll mode, and ping clients that fall back to it).
      ...(client.deliveryMode === 'push' ? {} : { interval }),
    },
  };
}
