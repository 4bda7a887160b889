import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
import { checkTotp, REFUSALS, typedCode } from './credentials.js';
import type { LoadedInteraction } from './guard.js';
import { ACR, type Interaction } from './model.js';
import { totpPage } from './pages/templates.js';
import { interactionPath, resume } from './resume.js';
import { startSession } from './session.js';

/** The TOTP step of a sign-in: the code (checkTotp), then a new multi-factor SSO session. */
export async function handleTotp(
  ctx: IdpContext,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  { id, interaction }: LoadedInteraction,
): Promise<FastifyReply> {
  const user = interaction.pendingSub ? ctx.realm.usersBySub.get(interaction.pendingSub) : undefined;
  const client = ctx.realm.clients.get(interaction.request.clientId);
  if (!user?.totpSecret || !client) return reply.redirect(interactionPath(id), 303);
  const retry = (status: number, error: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(
        totpPage({
          action: `${interactionPath(id)}/totp`,
          csrf: interaction.csrf,
          client,
          redirectUri: interaction.request.redirectUri,
          error,
        }),
      );

  const code = typedCode((request.body as URLSearchParams).get('code'));
  if (code === undefined) return retry(400, 'Enter the 6-digit code.');
  const checked = await checkTotp(ctx, reply, user, code);
  if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].totp);
  const session = await startSession(ctx, request, reply, {
    sub: user.sub,
    authTime: ctx.clock.now(),
    acr: ACR.mfa,
    // RFC 8176: password, one-time password, together multi-factor.
    amr: ['pwd', 'otp', 'mfa'],
  });
  const { pendingSub: _done, ...rest } = interaction;
  const next: Interaction = { ...rest, loginDone: true };
  await ctx.store.upsert('interaction', id, next, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
  return resume(ctx, reply, id, next, session);
}
