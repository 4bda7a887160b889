import { OAuthError, randomToken } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { identifyClient, validateAuthorizationRequest } from '../checks/authorization-request.js';
import { type IdpContext, PATHS } from '../context.js';
import { redirectToClient } from '../interactions/authorization-response.js';
import { refuse } from '../interactions/guard.js';
import type { AuthorizationRequest, Interaction } from '../interactions/model.js';
import { interactionPath, resume } from '../interactions/resume.js';
import { bindInteraction, currentSession } from '../interactions/session.js';
import type { Client } from '../realm.js';
import { type PushedRequest, REQUEST_URI_PREFIX } from './par.js';

/**
 * RFC 9126 §4: a request_uri replaces the whole request. It is redeemed once,
 * only by the client that pushed it (another client's attempt does not burn
 * it); extra parameters beside it are ignored (SECURITY P1–P3, P8). Returns
 * undefined for an unknown, expired, used or foreign request_uri.
 */
async function redeemRequestUri(ctx: IdpContext, client: Client, requestUri: string): Promise<AuthorizationRequest | undefined> {
  if (!requestUri.startsWith(REQUEST_URI_PREFIX)) return undefined;
  const id = requestUri.slice(REQUEST_URI_PREFIX.length);
  const found = await ctx.store.find<PushedRequest>('pushed_request', id);
  if (!found || found.value.request.clientId !== client.id) return undefined;
  const consumed = await ctx.store.consume<PushedRequest>('pushed_request', id);
  return consumed?.first ? consumed.record.value.request : undefined;
}

function queryOf(request: FastifyRequest): URLSearchParams {
  if (request.method === 'POST') return request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
  const index = request.url.indexOf('?');
  return new URLSearchParams(index < 0 ? '' : request.url.slice(index + 1));
}

/**
 * The authorization endpoint (OAuth 2.1 §4.1.1; GET, and POST per OIDC Core
 * §3.1.2.1). Validates, records the request as an interaction bound to this
 * browser, then either answers at once (SSO session and consent present) or
 * sends the user through login, TOTP and consent.
 */
export function authorizationEndpoint(app: FastifyInstance, idp: IdpContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = serving(idp, request);
    const query = queryOf(request);
    const requestUris = query.getAll('request_uri');
    let authorization: AuthorizationRequest;
    if (requestUris.length > 0) {
      const ids = query.getAll('client_id');
      const client = ids.length === 1 && ids[0] ? await ctx.realm.clients.resolve(ids[0]) : undefined;
      if (!client) return refuse(reply, 400, 'Invalid sign-in request', 'The application is not registered with this sign-in service.');
      const pushed = requestUris.length === 1 && requestUris[0] ? await redeemRequestUri(ctx, client, requestUris[0]) : undefined;
      if (!pushed) {
        // No trustworthy redirect_uri without the pushed request: redirect only to the client's single registered one.
        const only = client.redirectUris.length === 1 ? client.redirectUris[0] : undefined;
        const error = { error: 'invalid_request_uri', error_description: 'the request_uri is invalid, expired or already used' };
        if (!only) return refuse(reply, 400, 'Invalid sign-in request', `${error.error}: ${error.error_description}`);
        return redirectToClient(reply, ctx.realm.issuer, { redirectUri: only, state: undefined }, error);
      }
      authorization = pushed;
    } else {
      // A client_id that is a metadata document URL is fetched now, so the checks below see it (draft-ietf-oauth-client-id-metadata-document).
      const ids = query.getAll('client_id');
      if (ids.length === 1 && ids[0]) await ctx.realm.clients.resolve(ids[0]);
      const identified = identifyClient(ctx, query);
      if (typeof identified === 'string') return refuse(reply, 400, 'Invalid sign-in request', identified);
      const { client, redirectUri } = identified;
      const states = query.getAll('state');
      const state = states.length === 1 ? states[0] : undefined;
      try {
        authorization = validateAuthorizationRequest(ctx, client, redirectUri, query, 'front');
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error;
        return redirectToClient(
          reply,
          ctx.realm.issuer,
          { redirectUri, state },
          { error: error.error, error_description: error.description },
        );
      }
    }
    const id = randomToken(16);
    const interaction: Interaction = {
      request: authorization,
      browserBinding: bindInteraction(ctx, reply, interactionPath(id)),
      csrf: randomToken(32),
    };
    await ctx.store.insert('interaction', id, interaction, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
    return resume(ctx, reply, id, interaction, await currentSession(ctx, request));
  };
  app.get(PATHS.authorization, handler);
  app.post(PATHS.authorization, handler);
}
