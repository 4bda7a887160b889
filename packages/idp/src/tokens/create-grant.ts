import type { IdpContext } from '../context.js';
import { linkGrant } from './grant-links.js';
import type { Grant } from './model.js';

/**
 * Stores a new grant, the authorization tokens hang off, and links it to
 * its session and its consent so logout and withdrawal revoke it (SECURITY
 * R6). Returns when it expires. A grant id already taken is left alone.
 */
export async function createGrant(ctx: IdpContext, grantId: string, grant: Grant, lifetime: number): Promise<number> {
  const expiresAt = ctx.clock.now() + lifetime;
  if (await ctx.store.insert('grant', grantId, grant, { expiresAt, grantId })) await linkGrant(ctx.store, grantId, grant, expiresAt);
  return expiresAt;
}
