import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
import { checkPassword, REFUSALS } from './credentials.js';
import type { LoadedInteraction } from './guard.js';
import { ACR, type Interaction } from './model.js';
import { loginPage } from './pages/templates.js';
import { interactionPath, resume } from './resume.js';
import { startSession } from './session.js';

/** The password step: argon2id verification, lockout, then TOTP for users who have it, else a new SSO session. */
export async function handleLogin(
  ctx: IdpContext,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
  { id, interaction }: LoadedInteraction,
): Promise<FastifyReply> {
  const body = request.body as URLSearchParams;
  const username = (body.get('username') ?? '').trim();
  const password = body.get('password') ?? '';
  const client = ctx.realm.clients.get(interaction.request.clientId);
  if (!client) return reply.code(400).send();
  const retry = (status: number, error: string) =>
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      .send(
        loginPage({
          action: `${interactionPath(id)}/login`,
          csrf: interaction.csrf,
          client,
          redirectUri: interaction.request.redirectUri,
          error,
          username,
        }),
      );

  if (username === '' || password === '' || username.length > 256 || password.length > 1024) {
    return retry(400, 'Enter your username and password.');
  }
  const checked = await checkPassword(ctx, reply, username, password);
  if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].password);
  const user = checked.value;
  if (user.totpSecret) {
    const next: Interaction = { ...interaction, pendingSub: user.sub };
    await ctx.store.upsert('interaction', id, next, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
    return reply.redirect(interactionPath(id), 303);
  }
  const session = await startSession(ctx, request, reply, { sub: user.sub, authTime: ctx.clock.now(), acr: ACR.password, amr: ['pwd'] });
  const next: Interaction = { ...interaction, loginDone: true };
  await ctx.store.upsert('interaction', id, next, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
  return resume(ctx, reply, id, next, session);
}
