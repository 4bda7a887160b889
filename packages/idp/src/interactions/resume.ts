import { OAuthError, sameDetail } from '@palisade/core';
import type { FastifyReply } from 'fastify';
import { type IdpContext, PATHS } from '../context.js';
import { redirectToClient } from './authorization-response.js';
import { issueAuthorizationCode } from './issue-code.js';
import type { Consent, Interaction, Session } from './model.js';

export function interactionPath(id: string): string {
  return `${PATHS.interaction}/${id}`;
}

export function needsLogin(ctx: IdpContext, interaction: Interaction, session: Session | undefined): boolean {
  if (!session) return true;
  const { prompt, maxAge } = interaction.request;
  if (interaction.loginDone) return false;
  if (prompt.includes('login')) return true;
  // OIDC Core §3.1.2.1: max_age bounds how long ago the user actively authenticated.
  // max_age=0 means "authenticate now" (OIDC Core §3.1.2.1, errata): equal counts as too old.
  return maxAge !== undefined && ctx.clock.now() - session.authTime >= maxAge;
}

async function needsConsent(ctx: IdpContext, interaction: Interaction, session: Session): Promise<boolean> {
  const { request } = interaction;
  const client = ctx.realm.clients.get(request.clientId);
  const details = request.authorizationDetails ?? [];
  if (!client || request.prompt.includes('consent')) return true;
  // RFC 8252 §8.6: a public client's identity is only "something on a loopback port",
  // so its requests are never answered without the user, however often they consented.
  if (client.isPublic) return true;
  // Requests with authorization_details always ask, even for first-party clients, unless approved before.
  if (!client.requireConsent && details.length === 0) return false;
  // SECURITY S3: consent is remembered per user and per client, never shared between clients.
  const stored = (await ctx.store.find<Consent>('consent', consentId(session.sub, request.clientId)))?.value;
  if (!stored) return true;
  const scopeCovered = request.scope.every((s) => stored.scope.includes(s));
  const resourceCovered = request.resource === undefined || stored.resources.includes(request.resource);
  // "Unless the same details were approved before": exact equality, not coverage, so nothing new rides along.
  const approved = stored.authorizationDetails ?? [];
  const detailsCovered = details.every((detail) => approved.some((previous) => sameDetail(previous, detail)));
  return !(scopeCovered && resourceCovered && detailsCovered);
}

/**
 * RFC 9396 §6: the signed-in user's groups decide which details may be
 * granted at all (SECURITY D4). Checked before consent, so nobody is asked to
 * approve what policy forbids.
 */
function outsidePolicy(ctx: IdpContext, interaction: Interaction, session: Session): OAuthError | undefined {
  const details = interaction.request.authorizationDetails;
  const client = ctx.realm.clients.get(interaction.request.clientId);
  if (!details || !client) return undefined;
  try {
    ctx.realm.detailPolicy.check(details, client, ctx.realm.usersBySub.get(session.sub));
    return undefined;
  } catch (error) {
    if (error instanceof OAuthError) return error;
    throw error;
  }
}

/** `sub/client`, each part URI-encoded so the separator is unambiguous (and no NUL reaches PostgreSQL). */
export function consentId(sub: string, clientId: string): string {
  return `${encodeURIComponent(sub)}/${encodeURIComponent(clientId)}`;
}

/**
 * Decides the next step of an authorization request: a page for the user
 * (login, TOTP, consent) or the final redirect to the client. `prompt=none`
 * never shows a page (OIDC Core §3.1.2.1): it fails with login_required or
 * consent_required instead.
 */
export async function resume(
  ctx: IdpContext,
  reply: FastifyReply,
  id: string,
  interaction: Interaction,
  session: Session | undefined,
  options: { consentGiven?: boolean } = {},
): Promise<FastifyReply> {
  const { request } = interaction;
  const silent = request.prompt.includes('none');
  if (needsLogin(ctx, interaction, session) || !session) {
    if (silent) return finish(ctx, reply, id, interaction, { error: 'login_required' });
    return reply.redirect(interactionPath(id), 303);
  }
  const refused = outsidePolicy(ctx, interaction, session);
  if (refused) return finish(ctx, reply, id, interaction, { error: refused.error, error_description: refused.description });
  if (!options.consentGiven && (await needsConsent(ctx, interaction, session))) {
    if (silent) return finish(ctx, reply, id, interaction, { error: 'consent_required' });
    return reply.redirect(interactionPath(id), 303);
  }
  const code = await issueAuthorizationCode(ctx, request, session);
  return finish(ctx, reply, id, interaction, { code });
}

/** Ends the interaction (it is single-use) and sends the browser back to the client. */
export async function finish(
  ctx: IdpContext,
  reply: FastifyReply,
  id: string,
  interaction: Interaction,
  result: { code: string } | { error: string; error_description?: string },
): Promise<FastifyReply> {
  await ctx.store.delete('interaction', id);
  return redirectToClient(reply, ctx.realm.issuer, interaction.request, result);
}
