import { type AuthorizationDetail, InvalidRequest, RequestNotSupported, UnauthorizedClient, UnsupportedResponseType } from '@palisade/core';
import type { IdpContext } from '../context.js';
import { readParams, splitScope } from '../http/params.js';
import type { AuthorizationRequest } from '../interactions/model.js';
import { parseAuthorizationDetails } from '../rar/limits.js';
import type { Client } from '../realm.js';
import { checkCodeChallenge } from './pkce.js';
import { resolveRedirectUri } from './redirect-uri.js';
import { audienceFor, checkResource } from './resource.js';
import { checkScope, checkScopeAudience } from './scope.js';

export const AUTHORIZATION_PARAMETERS = [
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
  'response_mode',
  'request',
  'request_uri',
  'authorization_details',
  'dpop_jkt',
] as const;
const PROMPTS = new Set(['none', 'login', 'consent']);

/** Where an authorization request arrived: in the browser's URL, or pushed by the authenticated client (RFC 9126). */
export type Channel = 'front' | 'pushed';

/**
 * Stage 1: who is asking and where the answer goes. Failures here never
 * redirect (OAuth 2.1 §4.1.2.1, SECURITY A1–A4); the string says why.
 */
export function identifyClient(ctx: IdpContext, params: URLSearchParams): { client: Client; redirectUri: string } | string {
  const ids = params.getAll('client_id');
  if (ids.length !== 1 || !ids[0]) return 'The request does not name exactly one client.';
  const client = ctx.realm.clients.get(ids[0]);
  if (!client) return 'The application is not registered with this sign-in service.';
  return redirectFor(client, params);
}

/** The redirect URI of a request from a known client, or why there is none. */
export function redirectFor(client: Client, params: URLSearchParams): { client: Client; redirectUri: string } | string {
  const redirects = params.getAll('redirect_uri');
  if (redirects.length > 1) return 'The request names more than one redirect address.';
  const redirectUri = resolveRedirectUri(client, redirects[0] || undefined);
  if (!redirectUri) return 'The redirect address is not registered for this application.';
  return { client, redirectUri };
}

/**
 * Stage 2: everything else (OAuth 2.1 §4.1.1, RFC 7636, RFC 8707, RFC 9396).
 * The same checks run at the PAR endpoint, so a pushed request that reaches
 * the user is already known good (RFC 9126 §2.1).
 */
export function validateAuthorizationRequest(
  ctx: IdpContext,
  client: Client,
  redirectUri: string,
  params: URLSearchParams,
  channel: Channel,
): AuthorizationRequest {
  const p = readParams(params, AUTHORIZATION_PARAMETERS);
  if (channel === 'front' && client.requirePushedAuthorizationRequests) {
    // RFC 9126 §5 (SECURITY P6): this client's requests must arrive through PAR.
    throw InvalidRequest('this client must use pushed authorization requests');
  }
  if (p.response_type === undefined) throw InvalidRequest('response_type is required');
  // OAuth 2.1 §4.1.1: only the code flow; implicit and hybrid are gone (SECURITY A8).
  if (p.response_type !== 'code') throw UnsupportedResponseType('only response_type=code is supported');
  if (!client.grantTypes.has('authorization_code')) throw UnauthorizedClient('the client may not use the authorization code flow');
  if (p.response_mode !== undefined && p.response_mode !== 'query') throw InvalidRequest('only response_mode=query is supported');
  if (p.request !== undefined) throw RequestNotSupported('request objects are not supported; use PAR');
  // RFC 9126 §2.1 (SECURITY P5): a pushed request cannot itself point at another.
  if (p.request_uri !== undefined) throw InvalidRequest('request_uri is not allowed here');
  const codeChallenge = checkCodeChallenge(p.code_challenge, p.code_challenge_method);
  const scope = checkScope(client, splitScope(p.scope));
  // RFC 8707: `resource` may repeat on the wire; Palisade takes one (invalid_target otherwise, ADR 0002).
  const resource = checkResource(ctx.realm, client, params.getAll('resource'));
  checkScopeAudience(ctx.realm, scope, audienceFor(ctx.realm, client, resource));
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
  let authorizationDetails: AuthorizationDetail[] | undefined;
  if (p.authorization_details !== undefined) {
    // RFC 9396 §12 (SECURITY D5): details travel only in the back channel, where nobody can edit them.
    if (channel === 'front') throw InvalidRequest('authorization_details must be sent through pushed authorization requests');
    const parsed = parseAuthorizationDetails(p.authorization_details) ?? [];
    authorizationDetails = ctx.realm.detailTypes.validate(parsed, client);
  }
  // RFC 9449 §10: the thumbprint of the key the code will be redeemed with (SHA-256, base64url).
  if (p.dpop_jkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(p.dpop_jkt)) throw InvalidRequest('dpop_jkt is not a SHA-256 JWK thumbprint');
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
    authorizationDetails,
    ...(p.dpop_jkt !== undefined ? { dpopJkt: p.dpop_jkt } : {}),
  };
}
