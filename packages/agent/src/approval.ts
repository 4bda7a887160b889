import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import { MisuseError, ServerOAuthError, translated } from './errors.js';
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
}

/**
 * Asks a person to approve on their authentication device (OpenID Connect
 * CIBA, poll mode) and waits: the tokens when they approve, `ApprovalDenied`
 * (`oauth.access_denied`) when they refuse, `ApprovalExpired`
 * (`oauth.expired_token`) when nobody decides in time. Polls at the IdP's
 * interval and slows down when told to (CIBA §7.3, §11). Ping and push modes
 * need an endpoint the IdP can call: the MCP gateway has them (docs/gateway.md).
 */
export async function requestApproval(request: ApprovalRequest): Promise<oauth.TokenEndpointResponse> {
  if (request.bindingMessage.length === 0) throw new MisuseError('binding_message', 'say what the person approves (bindingMessage)');
  const { metadata, http } = await Issuer.discover(request.issuer);
  const client: oauth.Client = { client_id: request.clientId };
  const auth = clientAuth(request.credentials);
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
      },
      http,
    );
    return oauth.processBackchannelAuthenticationResponse(metadata, client, response);
  });
  let interval = started.interval ?? 5;
  const deadline = Date.now() + started.expires_in * 1000;
  for (;;) {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    request.onProgress?.(`Waiting for confirmation on ${request.user}'s device… (${left} s left)`);
    await sleep(interval * 1000, undefined, request.signal ? { signal: request.signal } : {});
    try {
      return await translated(async () => {
        const response = await oauth.backchannelAuthenticationGrantRequest(metadata, client, auth, started.auth_req_id, http);
        return oauth.processBackchannelAuthenticationGrantResponse(metadata, client, response);
      });
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
}
