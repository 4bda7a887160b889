import { sha256 } from '@palisade/core';
import type { FastifyReply } from 'fastify';
import type { IdpContext } from '../context.js';

/** Which factor an attempt tests. Separate counters: a known password must not reset TOTP guessing. */
export type Factor = 'password' | 'totp' | 'user_code';

function key(factor: Factor, username: string): string {
  return `${factor}/${username.toLowerCase()}`;
}

/**
 * Online guessing defence (NIST SP 800-63B §5.2.2). Every password or TOTP
 * attempt first takes a numbered slot from an atomic per-account counter;
 * past `max_failures` the attempt is refused without verifying anything, so
 * parallel guesses cannot slip through between a check and a write. The
 * counter lasts `lockout` seconds from the last attempt; success clears it.
 */
export async function reserveAttempt(ctx: IdpContext, factor: Factor, username: string): Promise<boolean> {
  const { max_failures: maxFailures, lockout } = ctx.realm.config.login;
  const count = await ctx.store.increment('login_failures', key(factor, username), ctx.clock.now() + lockout);
  return count <= maxFailures;
}

export async function clearFailures(ctx: IdpContext, factor: Factor, username: string): Promise<void> {
  await ctx.store.delete('login_failures', key(factor, username));
}

/**
 * Page refusals leave a trace until the audit trail lands: the event name,
 * a hash of the username (never the name a stranger typed, never a password)
 * and the interaction.
 */
export function logRefusal(
  reply: FastifyReply,
  event: 'user.login_failed' | 'user.locked_out' | 'user.totp_failed',
  username: string,
): void {
  reply.log.warn({ event, user: sha256(username.toLowerCase()).slice(0, 16) }, 'login refused');
}
