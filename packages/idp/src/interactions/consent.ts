import { sameDetail } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
import type { LoadedInteraction } from './guard.js';
import type { Consent } from './model.js';
import { consentId, finish, interactionPath, resume } from './resume.js';
import { currentSession } from './session.js';

/** The consent decision. Deny ends with access_denied (SECURITY A12); allow is remembered for this user and client only (S3). */
export async function handleConsent(
  ctx: IdpContext,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  { id, interaction }: LoadedInteraction,
): Promise<FastifyReply> {
  const session = await currentSession(ctx, request);
  if (!session) return reply.redirect(interactionPath(id), 303);
  const decision = (request.body as URLSearchParams).get('decision');
  if (decision === 'deny') {
    ctx.audit.record(
      {
        event: 'consent.denied',
        outcome: 'failure',
        reason: 'user_denied',
        sub: session.sub,
        client: interaction.request.clientId,
      },
      ctx.request,
    );
    return finish(ctx, reply, id, interaction, { error: 'access_denied', error_description: 'the user denied the request' });
  }
  if (decision !== 'allow') return reply.redirect(interactionPath(id), 303);
  const { request: authz } = interaction;
  const key = consentId(session.sub, authz.clientId);
  const previous = (await ctx.store.find<Consent>('consent', key))?.value;
  const approvedBefore = previous?.authorizationDetails ?? [];
  const consent: Consent = {
    scope: [...new Set([...(previous?.scope ?? []), ...authz.scope])],
    resources: [...new Set([...(previous?.resources ?? []), ...(authz.resource ? [authz.resource] : [])])],
    authorizationDetails: [
      ...approvedBefore,
      ...(authz.authorizationDetails ?? []).filter((d) => !approvedBefore.some((p) => sameDetail(p, d))),
    ],
  };
  await ctx.store.upsert('consent', key, consent, { expiresAt: null });
  ctx.audit.record(
    {
      event: 'consent.granted',
      outcome: 'success',
      sub: session.sub,
      client: authz.clientId,
      ...(authz.authorizationDetails ? { authorization_details: authz.authorizationDetails } : {}),
      data: { scope: authz.scope.join(' '), ...(authz.resource ? { resource: authz.resource } : {}) },
    },
    ctx.request,
  );
  return resume(ctx, reply, id, interaction, session, { consentGiven: true });
}
