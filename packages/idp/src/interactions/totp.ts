import type { FastifyReply, FastifyRequest } from 'fastify';
import { verify } from 'otplib';
import type { IdpContext } from '../context.js';
import type { LoadedInteraction } from './guard.js';
import { clearFailures, logRefusal, reserveAttempt } from './login-failures.js';
import { ACR, type Interaction } from './model.js';
import { totpPage } from './pages/templates.js';
import { interactionPath, resume } from './resume.js';
import { startSession } from './session.js';

/** RFC 6238 §5.2: accept one step of drift either way. */
const TOLERANCE_SECONDS = 30;

interface LastStep {
  readonly step: number;
}

/**
 * The second factor (RFC 6238 TOTP: SHA-1, 6 digits, 30 s). A code is
 * accepted once: the last accepted time step is stored per user and any step
 * at or before it is refused (RFC 6238 §5.2, replay).
 */
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

  const code = ((request.body as URLSearchParams).get('code') ?? '').replace(/\s/g, '');
  if (!/^[0-9]{6}$/.test(code)) return retry(400, 'Enter the 6-digit code.');
  if (!(await reserveAttempt(ctx, 'totp', user.username))) {
    logRefusal(reply, 'user.locked_out', user.username);
    return retry(429, 'Too many failed attempts. Wait a few minutes, then try again.');
  }
  const last = await ctx.store.find<LastStep>('totp_last_step', user.sub);
  const result = await verify({
    secret: user.totpSecret,
    token: code,
    epoch: ctx.clock.now(),
    epochTolerance: TOLERANCE_SECONDS,
    ...(last ? { afterTimeStep: last.value.step } : {}),
  });
  if (!result.valid) {
    logRefusal(reply, 'user.totp_failed', user.username);
    return retry(401, 'That code is not valid. Codes can be used once; wait for the next one.');
  }
  await ctx.store.upsert<LastStep>(
    'totp_last_step',
    user.sub,
    { step: 'timeStep' in result ? result.timeStep : Math.floor(ctx.clock.now() / 30) },
    { expiresAt: ctx.clock.now() + 4 * TOLERANCE_SECONDS },
  );
  await clearFailures(ctx, 'totp', user.username);
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
