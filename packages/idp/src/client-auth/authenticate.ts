import { digestEqual, InvalidClient, InvalidRequest, sha256 } from '@palisade/core';
import type { FastifyRequest } from 'fastify';
import { contextOf } from '../audit/context.js';
import type { ClientAuthMethod } from '../config/schema.js';
import type { IdpContext } from '../context.js';
import type { Client } from '../realm.js';
import { verifyClientAssertion } from './private-key-jwt.js';

export const CLIENT_AUTH_PARAMS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'] as const;

export interface AuthenticatedClient {
  readonly client: Client;
  readonly method: ClientAuthMethod;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined and base64-encoded. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!match?.[1]) throw InvalidClient('malformed Basic credentials');
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw InvalidClient('malformed Basic credentials');
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw InvalidClient('malformed Basic credentials');
  }
}

/**
 * Client authentication at the token, introspection, revocation (and later
 * PAR and CIBA) endpoints: client_secret_basic, client_secret_post,
 * private_key_jwt (RFC 7523) and none for public clients. Exactly one
 * method per request (OAuth 2.1 §2.4, SECURITY T10). Every failure is 401
 * `invalid_client` with no hint of which part was wrong (SECURITY T9, T11).
 */
export async function authenticateClient(ctx: IdpContext, request: FastifyRequest, body: URLSearchParams): Promise<AuthenticatedClient> {
  const context = contextOf(request);
  try {
    const authenticated = await identify(ctx, request, body);
    if (context) context.clientId = authenticated.client.id;
    return authenticated;
  } catch (error) {
    // The audit event names the client that was claimed, when it is one of ours (never free text from a stranger).
    const claimed = basicClaim(request.headers.authorization) ?? body.get('client_id') ?? undefined;
    if (context && claimed !== undefined && ctx.realm.clients.has(claimed)) context.clientId = claimed;
    throw error;
  }
}

function basicClaim(header: string | undefined): string | undefined {
  try {
    return basicCredentials(header)?.id;
  } catch {
    return undefined;
  }
}

async function identify(ctx: IdpContext, request: FastifyRequest, body: URLSearchParams): Promise<AuthenticatedClient> {
  for (const name of CLIENT_AUTH_PARAMS) {
    if (body.getAll(name).length > 1) throw InvalidRequest(`the ${name} parameter is repeated`);
  }
  const basic = basicCredentials(request.headers.authorization);
  const bodyId = body.get('client_id') || undefined;
  const bodySecret = body.get('client_secret') || undefined;
  const assertion = body.get('client_assertion') || undefined;
  const presented = [basic !== undefined, bodySecret !== undefined, assertion !== undefined].filter(Boolean).length;
  if (presented > 1) throw InvalidRequest('use exactly one client authentication method');

  if (basic) {
    if (bodyId !== undefined && bodyId !== basic.id) throw InvalidRequest('client_id does not match the authenticated client');
    return { client: checkSecret(ctx, basic.id, basic.secret, 'client_secret_basic'), method: 'client_secret_basic' };
  }
  if (bodySecret !== undefined) {
    if (bodyId === undefined) throw InvalidClient('client authentication failed', 'client_secret without client_id');
    return { client: checkSecret(ctx, bodyId, bodySecret, 'client_secret_post'), method: 'client_secret_post' };
  }
  if (assertion !== undefined) {
    const client = await verifyClientAssertion(ctx, body, assertion, bodyId);
    return { client, method: 'private_key_jwt' };
  }
  if (bodyId === undefined) throw InvalidClient('client authentication failed', 'no client identification');
  // A public client may be described by a metadata document: fetched here on first sight.
  const client = await ctx.realm.clients.resolve(bodyId);
  if (!client?.authMethods.has('none'))
    throw InvalidClient('client authentication failed', 'public access by a confidential or unknown client');
  return { client, method: 'none' };
}

/** What an unknown client's secret is compared with: no secret hashes to it. */
const UNKNOWN_CLIENT = sha256('\0unknown-client');

function checkSecret(ctx: IdpContext, clientId: string, secret: string, method: ClientAuthMethod): Client {
  const client = ctx.realm.clients.get(clientId);
  // Hash and compare even for an unknown client, so timing does not reveal which ids exist.
  const matches = digestEqual(sha256(secret), client?.secretHash ?? UNKNOWN_CLIENT);
  if (!client?.authMethods.has(method) || !matches) {
    throw InvalidClient('client authentication failed', `${method} failed`);
  }
  return client;
}
