import { randomToken, sha256 } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { IdpContext } from '../context.js';
import type { ConsoleApp } from './app.js';

/** A person signed in to a console app (the device, the audit viewer): who, and how they signed in. */
export interface ConsoleSession {
  readonly sub: string;
  readonly authTime: number;
  readonly amr: readonly string[];
  /** Anti-CSRF token of every form of the app. */
  readonly csrf: string;
}

/** A sign-in in progress: the form's CSRF token, and the user who still owes a TOTP code. */
export interface ConsoleLogin {
  readonly csrf: string;
  readonly pendingSub?: string;
}

function cookieOptions(ctx: IdpContext, app: ConsoleApp, maxAge: number) {
  // Scoped to the app's path, HttpOnly; SameSite=Lax plus per-form CSRF tokens and an Origin check guard the actions.
  return { path: app.path, httpOnly: true, sameSite: 'lax' as const, secure: ctx.realm.issuer.startsWith('https:'), maxAge };
}

/** Records of each app live apart: `<app>/<SHA-256 of the cookie>`; the cookie value itself is never stored. */
const key = (app: ConsoleApp, cookie: string) => `${app.name}/${sha256(cookie)}`;

export async function currentConsole(ctx: IdpContext, app: ConsoleApp, request: FastifyRequest): Promise<ConsoleSession | undefined> {
  const cookie = request.cookies[app.cookie];
  if (!cookie) return undefined;
  const session = (await ctx.store.find<ConsoleSession>('console_session', key(app, cookie)))?.value;
  // A user removed from the directory is signed out everywhere.
  return session && ctx.realm.usersBySub.has(session.sub) ? session : undefined;
}

/** Signs this browser in to the app; a fresh cookie each time (no fixation), stored hashed. */
export async function startConsole(
  ctx: IdpContext,
  app: ConsoleApp,
  request: FastifyRequest,
  reply: FastifyReply,
  session: Omit<ConsoleSession, 'csrf'>,
): Promise<void> {
  await endConsole(ctx, app, request, reply);
  const lifetime = app.lifetime(ctx);
  const cookie = randomToken(32);
  await ctx.store.insert<ConsoleSession>(
    'console_session',
    key(app, cookie),
    { ...session, csrf: randomToken(32) },
    { expiresAt: ctx.clock.now() + lifetime },
  );
  reply.setCookie(app.cookie, cookie, cookieOptions(ctx, app, lifetime));
  const login = request.cookies[app.loginCookie];
  if (login) await ctx.store.delete('console_login', key(app, login));
  reply.clearCookie(app.loginCookie, cookieOptions(ctx, app, 0));
}

export async function endConsole(ctx: IdpContext, app: ConsoleApp, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const cookie = request.cookies[app.cookie];
  if (cookie) await ctx.store.delete('console_session', key(app, cookie));
  reply.clearCookie(app.cookie, cookieOptions(ctx, app, 0));
}

/** The sign-in in progress in this browser, or (with `create`) a new one with its cookie. */
export async function consoleLogin(
  ctx: IdpContext,
  app: ConsoleApp,
  request: FastifyRequest,
  reply: FastifyReply,
  create: boolean,
): Promise<{ key: string; login: ConsoleLogin } | undefined> {
  const cookie = request.cookies[app.loginCookie];
  if (cookie) {
    const found = await ctx.store.find<ConsoleLogin>('console_login', key(app, cookie));
    if (found) return { key: key(app, cookie), login: found.value };
  }
  if (!create) return undefined;
  const value = randomToken(32);
  const login: ConsoleLogin = { csrf: randomToken(32) };
  const lifetime = ctx.realm.config.lifetimes.interaction;
  await ctx.store.insert('console_login', key(app, value), login, { expiresAt: ctx.clock.now() + lifetime });
  reply.setCookie(app.loginCookie, value, cookieOptions(ctx, app, lifetime));
  return { key: key(app, value), login };
}

export async function updateLogin(ctx: IdpContext, loginKey: string, login: ConsoleLogin): Promise<void> {
  await ctx.store.upsert('console_login', loginKey, login, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
}
