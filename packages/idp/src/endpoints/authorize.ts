import { InvalidRequest, OAuthError, randomToken, UnauthorizedClient, UnsupportedResponseType } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkCodeChallenge } from '../checks/pkce.js';
import { resolveRedirectUri } from '../checks/redirect-uri.js';
import { checkResource } from '../checks/resource.js';
import { checkScope } from '../checks/scope.js';
import { type IdpContext, PATHS } from '../context.js';
import { readParams, splitScope } from '../http/params.js';
import { redirectToClient } from '../interactions/authorization-response.js';
import { refuse } from '../interactions/guard.js';
import type { AuthorizationRequest, Interaction } from '../interactions/model.js';
import { interactionPath, resume } from '../interactions/resume.js';
import { bindInteraction, currentSession } from '../interactions/session.js';
import type { Client } from '../realm.js';

const PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'prompt',
  'max_age',
  'resource',
  'response_mode',
  'request',
  'request_uri',
] as const;
const PROMPTS = new Set(['none', 'login', 'consent']);

/** Stage 1: who is asking and where the answer goes. Failures here never redirect (OAuth 2.1 §4.1.2.1, SECURITY A1–A4). */
function identifyClient(ctx: IdpContext, query: URLSearchParams): { client: Client; redirectUri: string } | string {
  const ids = query.getAll('client_id');
  if (ids.length !== 1 || !ids[0]) return 'The request does not name exactly one client.';
  const client = ctx.realm.clients.get(ids[0]);
  if (!client) return 'The application is not registered with this sign-in service.';
  const redirects = query.getAll('redirect_uri');
  if (redirects.length > 1) return 'The request names more than one redirect address.';
  const redirectUri = resolveRedirectUri(client, redirects[0] || undefined);
  if (!redirectUri) return 'The redirect address is not registered for this application.';
  return { client, redirectUri };
}

/** Stage 2: everything else, whose failures go back to the client with error, state and iss. */
function validateRequest(ctx: IdpContext, client: Client, redirectUri: string, query: URLSearchParams): AuthorizationRequest {
  const p = readParams(query, PARAMETERS);
  if (p.response_type === undefined) throw InvalidRequest('response_type is required');
  // OAuth 2.1 §4.1.1: only the code flow; implicit and hybrid are gone (SECURITY A8).
  if (p.response_type !== 'code') throw UnsupportedResponseType('only response_type=code is supported');
  if (!client.grantTypes.has('authorization_code')) throw UnauthorizedClient('the client may not use the authorization code flow');
  if (p.response_mode !== undefined && p.response_mode !== 'query') throw InvalidRequest('only response_mode=query is supported');
  if (p.request !== undefined || p.request_uri !== undefined) throw InvalidRequest('request objects are not supported here');
  const codeChallenge = checkCodeChallenge(p.code_challenge, p.code_challenge_method);
  const scope = checkScope(client, splitScope(p.scope));
  const resource = checkResource(
    ctx.realm,
    client,
    query.getAll('resource').filter((r) => r !== ''),
  );
  const prompt = splitScope(p.prompt);
  if (prompt.some((v) => !PROMPTS.has(v))) throw InvalidRequest('prompt has an unsupported value');
  if (prompt.includes('none') && prompt.length > 1) throw InvalidRequest('prompt=none cannot be combined');
  let maxAge: number | undefined;
  if (p.max_age !== undefined) {
    if (!/^[0-9]{1,9}$/.test(p.max_age)) throw InvalidRequest('max_age must be a non-negative integer');
    maxAge = Number(p.max_age);
  }
  if (p.nonce !== undefined && p.nonce.length > 512) throw InvalidRequest('nonce is too long');
  if (p.state !== undefined && p.state.length > 2048) throw InvalidRequest('state is too long');
  return {
    clientId: client.id,
    redirectUri,
    redirectUriSent: p.redirect_uri !== undefined,
    state: p.state,
    scope,
    resource,
    codeChallenge,
    nonce: p.nonce,
    prompt,
    maxAge,
  };
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
export function authorizationEndpoint(app: FastifyInstance, ctx: IdpContext): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const query = queryOf(request);
    const identified = identifyClient(ctx, query);
    if (typeof identified === 'string') return refuse(reply, 400, 'Invalid sign-in request', identified);
    const { client, redirectUri } = identified;
    const states = query.getAll('state');
    const state = states.length === 1 ? states[0] : undefined;

    let authorization: AuthorizationRequest;
    try {
      authorization = validateRequest(ctx, client, redirectUri, query);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return redirectToClient(
        reply,
        ctx.realm.issuer,
        { redirectUri, state },
        { error: error.error, error_description: error.description },
      );
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
