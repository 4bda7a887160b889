import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import { NotificationReceiver, verifyPushedTokens } from './ciba-notifications.js';
import { ApprovalExpired, MisuseError, ServerOAuthError, translated } from './errors.js';
import { type AuthorizationDetail, type Credentials, clientAuth, Issuer, requestParameters } from './issuer.js';

export interface ApprovalRequest {
  readonly issuer: string;
  readonly clientId: string;
  readonly credentials: Exclude<Credentials, { public: true }>;
  /** Who must approve: a username or email (CIBA `login_hint`). */
  readonly user: string;
  /** Shown on the device and by the agent, so the person knows it is this request (CIBA §7.1). */
  readonly bindingMessage: string;
  readonly authorizationDetails?: readonly AuthorizationDetail[];
  readonly scope?: string;
  readonly resource?: string;
  /** Seconds the request may wait for the person. */
  readonly requestedExpiry?: number;
  /** Called while waiting ("Waiting for confirmation on alice's device…"). */
  readonly onProgress?: (message: string) => void;
  readonly signal?: AbortSignal;
  /**
   * The client's registered CIBA delivery mode (default poll). Ping and push
   * need `notificationEndpoint`: where to listen, matching the client's
   * registered `backchannel_client_notification_endpoint`.
   */
  readonly mode?: 'poll' | 'ping' | 'push';
  readonly notificationEndpoint?: { readonly host: string; readonly port: number; readonly path: string };
}

/** The approval's tokens, whichever way they came. */
export interface ApprovalTokens {
  readonly access_token: string;
  readonly expires_in?: number;
}

/**
 * Asks a person to approve on their authentication device (OpenID Connect
 * CIBA) and waits: the tokens when they approve, `ApprovalDenied`
 * (`oauth.access_denied`) when they refuse, `ApprovalExpired`
 * (`oauth.expired_token`) when nobody decides in time.
 *
 * - poll: polls at the IdP's interval, slower when told to (CIBA §7.3, §11);
 * - ping: listens on `notificationEndpoint`, redeems when pinged, and polls
 *   at the interval meanwhile in case the ping is lost;
 * - push: listens on `notificationEndpoint` and takes the pushed tokens once
 *   their ID token proves they are for this request (CIBA §10.3.1).
 */
export async function requestApproval(request: ApprovalRequest): Promise<ApprovalTokens> {
  if (request.bindingMessage.length === 0) throw new MisuseError('binding_message', 'say what the person approves (bindingMessage)');
  const mode = request.mode ?? 'poll';
  if (mode !== 'poll' && !request.notificationEndpoint)
    throw new MisuseError('notification_endpoint', `${mode} mode needs notificationEndpoint (the registered one)`);
  const { metadata, http } = await Issuer.discover(request.issuer);
  const client: oauth.Client = { client_id: request.clientId };
  const auth = clientAuth(request.credentials);
  const notificationToken = randomBytes(32).toString('base64url');
  let authReqId: string | undefined;
  const receiver =
    mode === 'poll' || !request.notificationEndpoint
      ? undefined
      : await NotificationReceiver.listen({ ...request.notificationEndpoint, token: notificationToken, authReqId: () => authReqId });
  try {
    const started = await translated(async () => {
      const response = await oauth.backchannelAuthenticationRequest(
        metadata,
        client,
        auth,
        {
          login_hint: request.user,
          binding_message: request.bindingMessage,
          ...requestParameters({
            scope: request.scope ?? 'openid',
            resource: request.resource,
            authorizationDetails: request.authorizationDetails,
          }),
          ...(request.requestedExpiry ? { requested_expiry: String(request.requestedExpiry) } : {}),
          ...(mode === 'poll' ? {} : { client_notification_token: notificationToken }),
        },
        http,
      );
      return oauth.processBackchannelAuthenticationResponse(metadata, client, response);
    });
    authReqId = started.auth_req_id;
    const redeem = () =>
      translated(async () => {
        const response = await oauth.backchannelAuthenticationGrantRequest(metadata, client, auth, started.auth_req_id, http);
        return oauth.processBackchannelAuthenticationGrantResponse(metadata, client, response);
      });
    if (mode === 'push' && receiver) {
      request.onProgress?.(`Waiting for confirmation on ${request.user}'s device…`);
      // A push can be lost (the IdP gives up after its retries): wait no longer than the request lives, or until aborted.
      const expired = sleep(started.expires_in * 1000, undefined, {
        ref: false,
        ...(request.signal ? { signal: request.signal } : {}),
      }).then(() => {
        throw new ApprovalExpired('expired_token', 200, 'no decision arrived before the request expired');
      });
      expired.catch(() => undefined); // settled later, when the push won: not an unhandled rejection
      const body = await Promise.race([receiver.notification, expired]);
      const pushed = await verifyPushedTokens(body, {
        issuer: metadata.issuer,
        clientId: request.clientId,
        jwksUri: String(metadata.jwks_uri),
        authReqId: started.auth_req_id,
      });
      return { access_token: pushed.accessToken, ...(pushed.expiresIn === undefined ? {} : { expires_in: pushed.expiresIn }) };
    }
    let ping: Promise<unknown> | undefined = receiver?.notification;
    let interval = started.interval ?? 5;
    const deadline = Date.now() + started.expires_in * 1000;
    for (;;) {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      request.onProgress?.(`Waiting for confirmation on ${request.user}'s device… (${left} s left)`);
      // Ping mode: the ping ends the wait early; the poll at the interval covers a lost ping.
      const waited = sleep(interval * 1000, undefined, { ref: false, ...(request.signal ? { signal: request.signal } : {}) });
      waited.catch(() => undefined); // an abort after the ping won is not an unhandled rejection
      await Promise.race(
        ping
          ? [
              waited,
              ping.then(() => {
                ping = undefined;
              }),
            ]
          : [waited],
      );
      try {
        return await redeem();
      } catch (error) {
        if (!(error instanceof ServerOAuthError)) throw error;
        if (error.error === 'authorization_pending') continue;
        if (error.error === 'slow_down') {
          interval += 5;
          continue;
        }
        throw error;
      }
    }
  } finally {
    receiver?.close();
  }
}
