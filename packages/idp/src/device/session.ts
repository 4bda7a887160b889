import { randomToken, sha256 } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';
import { type IdpContext, PATHS } from '../context.js';

/** A signed-in authentication device (a phone's browser): who, and how they signed in. */
export interface DeviceSession {
  readonly sub: string;
  readonly authTime: number;
  readonly amr: readonly string[];
  /** Anti-CSRF token of every form on the device pages. */
  readonly csrf: string;
}

/** A sign-in in progress on a device: the form's CSRF token, and the user who still owes a TOTP code. */
export interface DeviceLogin {
  readonly csrf: string;
  readonly pendingSub?: string;
}

const { deviceCookieName, deviceLoginCookieName } = DEFAULTS.ciba;

function cookieOptions(ctx: IdpContext, maxAge: number) {
  // Scoped to /device, HttpOnly; SameSite=Lax plus per-form CSRF tokens and an Origin check guard the actions.
  return { path: PATHS.device, httpOnly: true, sameSite: 'lax' as const, secure: ctx.realm.issuer.startsWith('https:'), maxAge };
}

export async function currentDevice(ctx: IdpContext, request: FastifyRequest): Promise<DeviceSession | undefined> {
  const cookie = request.cookies[deviceCookieName];
  if (!cookie) return undefined;
  const session = (await ctx.store.find<DeviceSession>('device_session', sha256(cookie)))?.value;
  // A user removed from the directory is signed out everywhere.
  return session && ctx.realm.usersBySub.has(session.sub) ? session : undefined;
}

/** Signs this device in for `ciba.device_session` seconds; a fresh cookie each time (no fixation), stored hashed. */
export async function startDevice(
  ctx: IdpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: Omit<DeviceSession, 'csrf'>,
): Promise<void> {
  await endDevice(ctx, request, reply);
  const lifetime = ctx.realm.config.ciba.device_session;
  const cookie = randomToken(32);
  await ctx.store.insert<DeviceSession>(
    'device_session',
    sha256(cookie),
    { ...session, csrf: randomToken(32) },
    {
      expiresAt: ctx.clock.now() + lifetime,
    },
  );
  reply.setCookie(deviceCookieName, cookie, cookieOptions(ctx, lifetime));
  const login = request.cookies[deviceLoginCookieName];
  if (login) await ctx.store.delete('device_login', sha256(login));
  reply.clearCookie(deviceLoginCookieName, cookieOptions(ctx, 0));
}

export async function endDevice(ctx: IdpContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const cookie = request.cookies[deviceCookieName];
  if (cookie) await ctx.store.delete('device_session', sha256(cookie));
  reply.clearCookie(deviceCookieName, cookieOptions(ctx, 0));
}

/** The sign-in in progress on this device, or a new one (with its cookie) when there is none. */
export async function deviceLogin(
  ctx: IdpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  create: boolean,
): Promise<{ key: string; login: DeviceLogin } | undefined> {
  const cookie = request.cookies[deviceLoginCookieName];
  if (cookie) {
    const found = await ctx.store.find<DeviceLogin>('device_login', sha256(cookie));
    if (found) return { key: sha256(cookie), login: found.value };
  }
  if (!create) return undefined;
  const value = randomToken(32);
  const login: DeviceLogin = { csrf: randomToken(32) };
  const lifetime = ctx.realm.config.lifetimes.interaction;
  await ctx.store.insert('device_login', sha256(value), login, { expiresAt: ctx.clock.now() + lifetime });
  reply.setCookie(deviceLoginCookieName, value, cookieOptions(ctx, lifetime));
  return { key: sha256(value), login };
}

export async function updateLogin(ctx: IdpContext, key: string, login: DeviceLogin): Promise<void> {
  await ctx.store.upsert('device_login', key, login, { expiresAt: ctx.clock.now() + ctx.realm.config.lifetimes.interaction });
}
