import { randomToken, sha256 } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';
import type { IdpContext } from '../context.js';
import { revokeLinkedGrants, sessionLinks } from '../tokens/grant-links.js';
import type { Session } from './model.js';

function secureCookies(ctx: IdpContext): boolean {
  return ctx.realm.issuer.startsWith('https:');
}

/** The SSO session of this browser, if its cookie names a live one. */
export async function currentSession(ctx: IdpContext, request: FastifyRequest): Promise<Session | undefined> {
  const cookie = request.cookies[DEFAULTS.session.cookieName];
  if (!cookie) return undefined;
  return (await ctx.store.find<Session>('session', sha256(cookie)))?.value;
}

/**
 * Starts a new SSO session after a successful login. A fresh cookie value
 * every time (no session fixation); the store keeps only its hash.
 * HttpOnly, SameSite=Lax (the browser must send it on the top-level GET to
 * /authorize), Secure whenever the issuer is https.
 */
export async function startSession(
  ctx: IdpContext,
  request: FastifyRequest,
  reply: FastifyReply,
  session: Omit<Session, 'sid' | 'csrf'>,
): Promise<Session> {
  const previous = request.cookies[DEFAULTS.session.cookieName];
  if (previous) {
    // Signing in over a session (another user, or again) ends it as logout would, grants included.
    const old = await ctx.store.find<Session>('session', sha256(previous));
    if (old) await revokeLinkedGrants(ctx.store, sessionLinks(old.value.sid), { keepOffline: true });
    await ctx.store.delete('session', sha256(previous));
  }
  const lifetime = ctx.realm.config.lifetimes.session;
  const cookie = randomToken(32);
  const stored: Session = { ...session, sid: randomToken(16), csrf: randomToken(32) };
  await ctx.store.insert('session', sha256(cookie), stored, { expiresAt: ctx.clock.now() + lifetime });
  reply.setCookie(DEFAULTS.session.cookieName, cookie, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(ctx),
    maxAge: lifetime,
  });
  return stored;
}

/** Sets the cookie that binds an interaction to this browser; scoped to the interaction's own path. */
export function bindInteraction(ctx: IdpContext, reply: FastifyReply, path: string): string {
  const value = randomToken(32);
  reply.setCookie(DEFAULTS.interaction.cookieName, value, {
    path,
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(ctx),
    maxAge: ctx.realm.config.lifetimes.interaction,
  });
  return sha256(value);
}

/** Ends this browser's SSO session: deletes the record and expires the cookie. */
export async function endSession(ctx: IdpContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const cookie = request.cookies[DEFAULTS.session.cookieName];
  if (cookie) await ctx.store.delete('session', sha256(cookie));
  reply.clearCookie(DEFAULTS.session.cookieName, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies(ctx) });
}
