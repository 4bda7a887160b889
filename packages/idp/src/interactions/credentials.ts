import { sha256 } from '@palisade/core';
import argon2 from 'argon2';
import type { FastifyReply } from 'fastify';
import { verify } from 'otplib';
import { type IdpContext, PATHS } from '../context.js';
import type { User } from '../realm.js';
import { clearFailures, logRefusal, reserveAttempt } from './login-failures.js';

/** What checking one factor came to: accepted, refused, or not tried because the account is locked. */
export type FactorResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: 'invalid' | 'locked' };

let dummyHash: Promise<string> | undefined;
/** A real argon2id hash to verify against for unknown users, so timing does not reveal which usernames exist. */
function unknownUserHash(): Promise<string> {
  dummyHash ??= argon2.hash('palisade-unknown-user', { type: argon2.argon2id });
  return dummyHash;
}

/** argon2id verification that also spends the time of one for a missing hash; any malformed input is a mismatch. */
export async function verifySecret(hash: string | undefined, secret: string): Promise<boolean> {
  try {
    const matches = await argon2.verify(hash ?? (await unknownUserHash()), secret);
    return matches && hash !== undefined;
  } catch {
    return false;
  }
}

/**
 * The password factor, shared by the sign-in pages and the authentication
 * device: the lockout counter first, then argon2id. Refusals are logged
 * without the password or the raw username.
 */
export async function checkPassword(ctx: IdpContext, reply: FastifyReply, username: string, password: string): Promise<FactorResult<User>> {
  const user = ctx.realm.usersByName.get(username);
  if (!(await reserveAttempt(ctx, 'password', username))) {
    logRefusal(reply, 'user.locked_out', username);
    auditFactor(ctx, 'pwd', username, user, 'locked');
    return { ok: false, reason: 'locked' };
  }
  if (!(await verifySecret(user?.passwordHash, password)) || !user) {
    logRefusal(reply, 'user.login_failed', username);
    auditFactor(ctx, 'pwd', username, user, 'invalid');
    return { ok: false, reason: 'invalid' };
  }
  await clearFailures(ctx, 'password', username);
  auditFactor(ctx, 'pwd', username, user, 'ok');
  return { ok: true, value: user };
}

/** RFC 6238 §5.2: accept one step of drift either way. */
const TOLERANCE_SECONDS = 30;

interface LastStep {
  readonly step: number;
}

/**
 * The second factor (RFC 6238 TOTP: SHA-1, 6 digits, 30 s). A code is
 * accepted once: each accepted time step is claimed atomically, and the last
 * one is stored per user so any step at or before it is refused (RFC 6238
 * §5.2, replay), whether the code signs in or approves a request.
 */
export async function checkTotp(ctx: IdpContext, reply: FastifyReply, user: User, code: string): Promise<FactorResult<undefined>> {
  if (!user.totpSecret) return { ok: false, reason: 'invalid' };
  if (!(await reserveAttempt(ctx, 'totp', user.username))) {
    logRefusal(reply, 'user.locked_out', user.username);
    auditFactor(ctx, 'otp', user.username, user, 'locked');
    return { ok: false, reason: 'locked' };
  }
  const last = await ctx.store.find<LastStep>('totp_last_step', user.sub);
  const result = await verify({
    secret: user.totpSecret,
    token: code,
    epoch: ctx.clock.now(),
    epochTolerance: TOLERANCE_SECONDS,
    ...(last ? { afterTimeStep: last.value.step } : {}),
  });
  const step = result.valid && 'timeStep' in result ? result.timeStep : undefined;
  // The read above is not a lock: parallel requests with one code would all pass it. Claiming the
  // step with insert-or-refuse lets exactly one of them through (RFC 6238 §5.2, across nodes too).
  const claimed =
    step !== undefined &&
    (await ctx.store.insert('replay', `totp:${user.sub}:${step}`, {}, { expiresAt: ctx.clock.now() + 4 * TOLERANCE_SECONDS }));
  if (!claimed) {
    logRefusal(reply, 'user.totp_failed', user.username);
    auditFactor(ctx, 'otp', user.username, user, 'invalid');
    return { ok: false, reason: 'invalid' };
  }
  if (!last || step > last.value.step) {
    await ctx.store.upsert<LastStep>('totp_last_step', user.sub, { step }, { expiresAt: ctx.clock.now() + 4 * TOLERANCE_SECONDS });
  }
  await clearFailures(ctx, 'totp', user.username);
  auditFactor(ctx, 'otp', user.username, user, 'ok');
  return { ok: true, value: undefined };
}

/**
 * One audit event per factor checked. A failure for a name that is no user
 * records only a hash of what was typed: people type passwords into the
 * username field, and a stranger's text is not an identifier.
 */
function auditFactor(
  ctx: IdpContext,
  method: 'pwd' | 'otp',
  username: string,
  user: User | undefined,
  result: 'ok' | 'invalid' | 'locked',
): void {
  const endpoint = ctx.request?.endpoint ?? '';
  const app = endpoint.startsWith(PATHS.device) ? 'device' : 'signin';
  ctx.audit.record(
    {
      event: result === 'ok' ? 'user.authenticated' : result === 'locked' ? 'user.locked_out' : 'user.authentication_failed',
      outcome: result === 'ok' ? 'success' : 'failure',
      ...(result === 'ok' ? {} : { reason: result }),
      ...(user ? { sub: user.sub } : {}),
      data: { method, app, ...(user ? {} : { user_hash: sha256(username.toLowerCase()).slice(0, 16) }) },
    },
    ctx.request,
  );
}

/** A TOTP code as typed: spaces dropped; anything but six digits is not worth a lockout slot. */
export function typedCode(value: string | null | undefined): string | undefined {
  const code = (value ?? '').replace(/\s/g, '');
  return /^[0-9]{6}$/.test(code) ? code : undefined;
}

/** What a person is told when a factor is refused: never which part was wrong beyond what they typed. */
export const REFUSALS = {
  locked: {
    password: 'Too many failed attempts. Wait a few minutes, then try again.',
    totp: 'Too many failed attempts. Wait a few minutes, then try again.',
  },
  invalid: {
    password: 'The username or password is incorrect.',
    totp: 'That code is not valid. Codes can be used once; wait for the next one.',
  },
} as const;
