import { InvalidRequest, OAuthError } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { matchesRegistered } from '../checks/redirect-uri.js';
import { type IdpContext, PATHS } from '../context.js';
import { readParams } from '../http/params.js';
import { checkFormPost, refuse } from '../interactions/guard.js';
import { logoutPage, signedOutPage, stillSignedInPage } from '../interactions/pages/templates.js';
import { currentSession, endSession } from '../interactions/session.js';
import type { Client } from '../realm.js';
import { revokeLinkedGrants, sessionLinks } from '../tokens/grant-links.js';

const PARAMETERS = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

interface LogoutRequest {
  readonly client: Client | undefined;
  readonly redirect: string | undefined;
  readonly state: string | undefined;
}

/**
 * OIDC RP-Initiated Logout 1.0 §2–3: the client is named by `client_id` or by
 * an ID token we issued (`id_token_hint`, expired ones accepted); a
 * `post_logout_redirect_uri` must be registered for it, else nobody is
 * redirected anywhere (no open redirect).
 */
async function validate(ctx: IdpContext, source: URLSearchParams): Promise<LogoutRequest> {
  const p = readParams(source, PARAMETERS);
  let clientId = p.client_id;
  if (p.id_token_hint !== undefined) {
    const hinted = (await ctx.tokens.idTokenHint(p.id_token_hint))?.client;
    if (hinted === undefined) throw InvalidRequest('id_token_hint is not an ID token issued here');
    if (clientId !== undefined && clientId !== hinted) throw InvalidRequest('id_token_hint was issued to another client');
    clientId = hinted;
  }
  const client = clientId === undefined ? undefined : await ctx.realm.clients.resolve(clientId);
  if (clientId !== undefined && !client) throw InvalidRequest('unknown client');
  if (
    p.post_logout_redirect_uri !== undefined &&
    !(client && matchesRegistered(client.postLogoutRedirectUris, p.post_logout_redirect_uri))
  ) {
    throw InvalidRequest('post_logout_redirect_uri is not registered for this client');
  }
  return { client, redirect: p.post_logout_redirect_uri, state: p.state };
}

/** The validated request, or undefined after answering with the error page (never a redirect). */
async function validateOrRefuse(ctx: IdpContext, source: URLSearchParams, reply: FastifyReply): Promise<LogoutRequest | undefined> {
  try {
    return await validate(ctx, source);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    refuse(reply, 400, 'Invalid sign-out request', error.description);
    return undefined;
  }
}

function done(reply: FastifyReply, logout: LogoutRequest): FastifyReply {
  if (!logout.redirect) return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(signedOutPage());
  const url = new URL(logout.redirect);
  if (logout.state !== undefined) url.searchParams.set('state', logout.state);
  return reply.redirect(url.href, 303);
}

/**
 * The end-session endpoint. GET shows a confirmation (a cross-site link alone
 * must not sign anyone out); the POST, CSRF-checked against the session,
 * ends the SSO session and revokes the grants made in it, except those that
 * asked for offline_access (OIDC Core §11), so their refresh tokens fail
 * from then on (SECURITY R6).
 */
export function endSessionEndpoint(app: FastifyInstance, idp: IdpContext): void {
  app.get(PATHS.endSession, async (request: FastifyRequest, reply) => {
    const ctx = serving(idp, request);
    const query = new URLSearchParams(request.url.split('?')[1] ?? '');
    const logout = await validateOrRefuse(ctx, query, reply);
    if (!logout) return reply;
    const session = await currentSession(ctx, request);
    if (!session) return done(reply, logout);
    const fields = Object.fromEntries(PARAMETERS.flatMap((name) => (query.get(name) ? [[name, query.get(name) as string]] : [])));
    const username = ctx.realm.usersBySub.get(session.sub)?.username ?? session.sub;
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(logoutPage({ csrf: session.csrf, username, client: logout.client, fields }));
  });

  app.post(PATHS.endSession, async (request: FastifyRequest, reply) => {
    const ctx = serving(idp, request);
    const body = request.body instanceof URLSearchParams ? request.body : new URLSearchParams();
    const logout = await validateOrRefuse(ctx, body, reply);
    if (!logout) return reply;
    const session = await currentSession(ctx, request);
    if (!session) return done(reply, logout);
    if (!checkFormPost(ctx, request, reply, session.csrf)) return reply;
    if (body.get('decision') !== 'logout') {
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(stillSignedInPage());
    }
    const revoked = await revokeLinkedGrants(ctx.store, sessionLinks(session.sid), { keepOffline: true });
    await endSession(ctx, request, reply);
    ctx.audit.record(
      {
        event: 'user.signed_out',
        outcome: 'success',
        sub: session.sub,
        ...(logout.client ? { client: logout.client.id } : {}),
        data: { app: 'signin', grants_revoked: revoked },
      },
      ctx.request,
    );
    return done(reply, logout);
  });
}
