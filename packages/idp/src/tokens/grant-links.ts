import type { Store } from '@palisade/store';
import type { Grant } from './model.js';
import { revokeGrant } from './revoke-grant.js';

/**
 * Which grants belong to an SSO session and to a user's consent for a client,
 * so that logout and consent withdrawal can revoke them (SECURITY R6). Each
 * link is a record `owner/grantId` carrying the grant id, so it disappears
 * with the grant it points to.
 */
interface GrantLink {
  readonly grantId: string;
  /** The grant includes offline_access: it outlives the SSO session by design. */
  readonly offline: boolean;
}

const part = encodeURIComponent;

export function sessionLinks(sid: string): string {
  return `session/${part(sid)}/`;
}

export function consentLinks(sub: string, clientId: string): string {
  return `consent/${part(sub)}/${part(clientId)}/`;
}

export async function linkGrant(store: Store, grantId: string, grant: Grant, expiresAt: number): Promise<void> {
  const link: GrantLink = { grantId, offline: grant.scope.includes('offline_access') };
  const owners = [consentLinks(grant.sub, grant.clientId), ...(grant.sessionId ? [sessionLinks(grant.sessionId)] : [])];
  for (const owner of owners) await store.insert('grant_link', `${owner}${grantId}`, link, { expiresAt, grantId });
}

/** Revokes every grant linked under `owner`; `keepOffline` spares grants that asked for offline_access. */
export async function revokeLinkedGrants(store: Store, owner: string, options: { keepOffline: boolean }): Promise<number> {
  const links = await store.list<GrantLink>('grant_link', owner);
  let revoked = 0;
  for (const { value } of links) {
    if (options.keepOffline && value.offline) continue;
    await revokeGrant(store, value.grantId);
    revoked++;
  }
  return revoked;
}
