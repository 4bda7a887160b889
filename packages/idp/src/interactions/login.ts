import argon2 from 'argon2';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
import type { LoadedInteraction } from './guard.js';
import { clearFailures, logRefusal, reserveAttempt } from './login-failures.js';
import { ACR, type Interaction } from './model.js';
import { loginPage } from './pages/templates.js';
import { interactionPath, resume } from './resume.js';
import { startSession } from './session.js';

let dummyHash: Promise<string> | undefined;
/** A real argon2id hash to verify against for unknown users, so timing does not reveal which usernames exist. */
function unknownUserHash(): Promise<string> {
  dummyHash ??= argon2.hash('palisade-unknown-user', { type: argon2.argon2id });
  return dummyHash;
}

async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  try {
    const matches = await argon2.verify(hash ?? (await unknownUserHash()), password);
    return matches && hash !== undefined;
  } catch {
    return false;
  }
}

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
  if (!(await reserveAttempt(ctx, 'password', username))) {
    logRefusal(reply, 'user.locked_out', username);
    return retry(429, 'Too many failed attempts. Wait a few minutes, then try again.');
  }
  const user = ctx.realm.usersByName.get(username);
  if (!(await verifyPassword(user?.passwordHash, password)) || !user) {
    logRefusal(reply, 'user.login_failed', username);
    return retry(401, 'The username or password is incorrect.');
  }
  await clearFailures(ctx, 'password', username);
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
