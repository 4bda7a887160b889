import { ProtocolError, ServerOAuthError, verifyPushedTokens } from '@palisade/agent';
import { type AuthorizationDetail, covers, randomToken, safeEqual, sameDetail, sha256 } from '@palisade/core';
import { type ServiceClient, TokenEndpointError, type TokenVerifier, type VerifiedToken } from '@palisade/resource-server';
import type { Arguments } from './template.js';
import type { GatewayTool } from './tools.js';

/** The RAR type that binds a person's approval to one exact call (docs/gateway.md). */
export const TOOL_CALL_TYPE = 'tool_call';
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/** Why a call that needed a person's approval does not go ahead; shown to the MCP client as a tool error. */
export class ApprovalRefused extends Error {
  override readonly name = 'ApprovalRefused';
  constructor(
    readonly outcome: 'denied' | 'expired' | 'unavailable' | 'no_user' | 'mismatch',
    message: string,
  ) {
    super(message);
  }
}

/** What the IdP told the gateway about one request: a ping (redeem now), or pushed tokens or error. */
type Notice = { readonly kind: 'ping' } | { readonly kind: 'push'; readonly body: Record<string, unknown> };

interface Waiter {
  readonly authReqId: string;
  notify(notice: Notice): void;
}

export interface ApprovalsOptions {
  /** The gateway's canonical URI: the audience of approval tokens, and their `tool_call` location. */
  readonly resource: string;
  readonly issuer: string;
  readonly mode: 'ping' | 'push';
  /** The client registered with the chosen delivery mode. */
  readonly client: ServiceClient;
  /** Verifies approval tokens (audience: the gateway). */
  readonly verifier: TokenVerifier;
  /** Seconds a call waits for the person. */
  readonly wait: number;
  readonly progressInterval: number;
  readonly now: () => number;
}

export interface PendingCall {
  readonly token: VerifiedToken;
  readonly tool: GatewayTool;
  readonly args: Arguments;
  /** Called while the person has not decided yet (MCP progress notifications). */
  readonly onProgress: (message: string) => Promise<void>;
  readonly signal: AbortSignal;
}

/**
 * Asking a person to approve one exact tool call on their authentication
 * device (OpenID Connect CIBA, ping or push mode), and waiting for the answer.
 *
 * The request carries the call's own authorization details plus a
 * `tool_call` detail naming the tool and the SHA-256 of its canonical
 * arguments, valid until the wait ends: the token that comes back is usable
 * for that call alone, and the gateway checks so before it uses it.
 */
export class Approvals {
  /** Waiters by the SHA-256 of their client_notification_token (the token itself is never kept as a key). */
  readonly #waiters = new Map<string, Waiter>();

  constructor(readonly options: ApprovalsOptions) {}

  /** Calls waiting for a person now (a metric). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** The binding detail for this call: tool, arguments digest, until when. */
  bindingDetail(tool: GatewayTool, args: Arguments, until: number): AuthorizationDetail {
    return {
      type: TOOL_CALL_TYPE,
      locations: [this.options.resource],
      actions: [tool.name],
      arguments_digest: tool.digest(args),
      expires_at: until,
    };
  }

  /** Asks the token's user to approve the call, waits, and returns the approval token (audience: the gateway). */
  async approve(call: PendingCall): Promise<VerifiedToken> {
    const { token, tool, args } = call;
    if (call.signal.aborted) throw new ApprovalRefused('expired', 'the call was cancelled');
    if (token.sub === token.clientId)
      throw new ApprovalRefused('no_user', 'this call needs a person to approve it, and the token acts for no person (client credentials)');
    const until = this.options.now() + this.options.wait;
    const binding = this.bindingDetail(tool, args, until);
    const required = tool.required(args);
    const notificationToken = randomToken();
    const metadata = await this.options.client.metadata();
    const endpoint = metadata.backchannel_authentication_endpoint;
    if (typeof endpoint !== 'string') throw new ApprovalRefused('unavailable', 'the identity provider does not offer CIBA approvals');
    const response = await this.options.client.post(
      endpoint,
      {
        scope: 'openid',
        // Palisade subjects are usernames: the token's own user is the one asked (CIBA §7.1 login_hint).
        login_hint: token.sub,
        binding_message: tool.bindingMessage(args),
        authorization_details: JSON.stringify([...required, binding]),
        resource: this.options.resource,
        requested_expiry: String(this.options.wait),
        client_notification_token: notificationToken,
      },
      { traceId: token.traceId },
    );
    const asked = (await response.json()) as { auth_req_id?: string; expires_in?: number; interval?: number; error?: string };
    if (!response.ok || typeof asked.auth_req_id !== 'string') {
      if (asked.error === 'unknown_user_id')
        throw new ApprovalRefused('no_user', 'the identity provider does not know who should approve this call');
      throw new ApprovalRefused('unavailable', `the approval request was refused (${asked.error ?? response.status})`);
    }
    const issued = await this.#wait(notificationToken, { authReqId: asked.auth_req_id, interval: asked.interval ?? 5 }, call);
    return this.#check(issued, call, binding, required);
  }

  /**
   * Waits for the person's decision and returns the approval's access token:
   * from the ping (then redeemed) or the push. In ping mode the waiting node
   * also polls at the IdP's interval (CIBA §7.3; the IdP answers
   * authorization_pending to a ping client too), so a lost ping, or one that
   * reached another gateway node, only delays the call. A ping that arrives
   * while a poll is in flight uses that poll's outcome, and no poll starts
   * after it: the auth_req_id is redeemed once.
   */
  async #wait(notificationToken: string, asked: { authReqId: string; interval: number }, call: PendingCall): Promise<string> {
    const key = sha256(notificationToken);
    const { authReqId } = asked;
    // Polls and the redemption continue the call's trace, as the backchannel request did.
    const { traceId } = call.token;
    const deadline = Date.now() + this.options.wait * 1000;
    const progress = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      call.onProgress(`waiting for ${call.token.sub} to approve on their device (${left} s left)`).catch(() => undefined);
    };
    const timers: NodeJS.Timeout[] = [];
    let cancelled = () => {};
    let notified = false;
    let ended = false;
    let polling: Promise<string | undefined> = Promise.resolve(undefined);
    try {
      return await new Promise<string>((resolve, reject) => {
        const settle = (issued: Promise<string | undefined>) =>
          issued.then((token) => (token === undefined ? undefined : resolve(token)), reject);
        this.#waiters.set(key, {
          authReqId,
          notify: (notice) => {
            notified = true;
            settle(
              notice.kind === 'ping'
                ? polling.then((token) => token ?? this.#redeem(authReqId, traceId))
                : this.#pushed(notice.body, authReqId),
            );
          },
        });
        cancelled = () => reject(new ApprovalRefused('expired', 'the call was cancelled while waiting for approval'));
        // Cancelled while the backchannel request was on its way: no abort event will come.
        if (call.signal.aborted) cancelled();
        call.signal.addEventListener('abort', cancelled, { once: true });
        timers.push(
          setInterval(progress, this.options.progressInterval * 1000),
          setTimeout(() => reject(new ApprovalRefused('expired', 'nobody approved the call in time')), this.options.wait * 1000),
        );
        if (this.options.mode === 'ping') {
          let interval = asked.interval;
          const poll = () => {
            if (notified || ended) return;
            polling = this.#poll(authReqId, traceId, () => {
              interval += 5;
            });
            settle(polling);
            polling.then(
              (token) => {
                if (token === undefined && !notified && !ended) timers.push(setTimeout(poll, interval * 1000));
              },
              () => undefined,
            );
          };
          timers.push(setTimeout(poll, interval * 1000));
        }
        progress();
      });
    } finally {
      ended = true;
      this.#waiters.delete(key);
      for (const timer of timers) clearTimeout(timer);
      call.signal.removeEventListener('abort', cancelled);
    }
  }

  /**
   * A notification from the IdP (CIBA §10.2 ping, §10.3 push), authenticated
   * by the client_notification_token of a waiting call; false when no call
   * waits for it (the caller answers 401).
   */
  deliver(bearer: string, body: Record<string, unknown>): boolean {
    const waiter = this.#waiters.get(sha256(bearer));
    if (!waiter || typeof body.auth_req_id !== 'string' || !safeEqual(body.auth_req_id, waiter.authReqId)) return false;
    waiter.notify(this.options.mode === 'ping' ? { kind: 'ping' } : { kind: 'push', body });
    return true;
  }

  /** One poll (CIBA §10.1): the token, or undefined while the person has not decided. */
  async #poll(authReqId: string, traceId: string | undefined, slowDown: () => void): Promise<string | undefined> {
    try {
      return (await this.options.client.tokenRequest({ grant_type: CIBA_GRANT, auth_req_id: authReqId }, { traceId })).access_token;
    } catch (error) {
      if (!(error instanceof TokenEndpointError)) throw error;
      if (error.error === 'authorization_pending') return undefined;
      if (error.error === 'slow_down') {
        slowDown();
        return undefined;
      }
      throw refusalOf(error.error);
    }
  }

  async #redeem(authReqId: string, traceId: string | undefined): Promise<string> {
    try {
      const issued = await this.options.client.tokenRequest({ grant_type: CIBA_GRANT, auth_req_id: authReqId }, { traceId });
      return issued.access_token;
    } catch (error) {
      if (error instanceof TokenEndpointError) throw refusalOf(error.error);
      throw error;
    }
  }

  /** CIBA §10.3.1, through the agent SDK: pushed tokens count only with an ID token for this request whose at_hash matches. */
  async #pushed(body: Record<string, unknown>, authReqId: string): Promise<string> {
    const metadata = await this.options.client.metadata();
    try {
      const pushed = await verifyPushedTokens(body, {
        issuer: this.options.issuer,
        clientId: this.options.client.options.clientId,
        jwksUri: String(metadata.jwks_uri),
        authReqId,
        now: this.options.now,
      });
      return pushed.accessToken;
    } catch (error) {
      if (error instanceof ServerOAuthError) throw refusalOf(error.error);
      if (error instanceof ProtocolError) throw new ApprovalRefused('mismatch', 'the pushed tokens do not belong to this approval');
      throw error;
    }
  }

  /** The approval token must be for this gateway, this user, this exact call, still in time. */
  async #check(issued: string, call: PendingCall, binding: AuthorizationDetail, required: AuthorizationDetail[]): Promise<VerifiedToken> {
    const approval = await this.options.verifier.verify(issued).catch(() => {
      throw new ApprovalRefused('mismatch', 'the approval token is not valid for this gateway');
    });
    const bound = approval.authorizationDetails.some((detail) => sameDetail(detail, binding));
    if (approval.sub !== call.token.sub || !bound || !required.every((detail) => covers(approval.authorizationDetails, detail)))
      throw new ApprovalRefused('mismatch', 'the approval does not match this call');
    if (Number(binding.expires_at) < this.options.now())
      throw new ApprovalRefused('expired', 'the approval came after the call stopped waiting');
    // The call goes on under the approval token, in the call's trace.
    return call.token.traceId === undefined ? approval : { ...approval, traceId: call.token.traceId };
  }
}

function refusalOf(error: string): ApprovalRefused {
  if (error === 'access_denied') return new ApprovalRefused('denied', 'the person denied this call on their device');
  if (error === 'expired_token') return new ApprovalRefused('expired', 'the approval request expired before anyone decided');
  return new ApprovalRefused('unavailable', `the approval could not be completed (${error})`);
}
