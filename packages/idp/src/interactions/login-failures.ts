import type { IdpContext } from '../context.js';

interface Failures {
  readonly count: number;
}

function key(username: string): string {
  return username.toLowerCase();
}

/**
 * Online guessing defence (RFC 9700 §4.13 spirit, NIST 800-63B §5.2.2):
 * after `max_failures` wrong passwords or TOTP codes the account refuses
 * logins for `lockout` seconds, counted from the last failure.
 */
export async function isLockedOut(ctx: IdpContext, username: string): Promise<boolean> {
  const record = await ctx.store.find<Failures>('login_failures', key(username));
  return (record?.value.count ?? 0) >= ctx.realm.config.login.max_failures;
}

export async function recordFailure(ctx: IdpContext, username: string): Promise<void> {
  const record = await ctx.store.find<Failures>('login_failures', key(username));
  await ctx.store.upsert<Failures>(
    'login_failures',
    key(username),
    { count: (record?.value.count ?? 0) + 1 },
    {
      expiresAt: ctx.clock.now() + ctx.realm.config.login.lockout,
    },
  );
}

export async function clearFailures(ctx: IdpContext, username: string): Promise<void> {
  await ctx.store.delete('login_failures', key(username));
}
