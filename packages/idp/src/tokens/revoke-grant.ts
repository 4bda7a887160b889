import type { Store } from '@palisade/store';

/**
 * Revokes a whole grant: the grant record, its codes, refresh tokens and
 * access-token records all carry its id (RFC 7009 §2.1, OAuth 2.1 §4.1.3).
 */
export async function revokeGrant(store: Store, grantId: string): Promise<void> {
  await store.deleteByGrant(grantId);
}
