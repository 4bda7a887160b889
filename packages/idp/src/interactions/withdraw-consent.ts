import type { IdpContext } from '../context.js';
import { consentLinks, revokeLinkedGrants } from '../tokens/grant-links.js';
import type { Consent } from './model.js';
import { consentId } from './resume.js';

/**
 * Withdraws a user's consent for one client, or for every client: the
 * consent is forgotten (the next login asks again) and every grant made under
 * it is revoked, refresh tokens included (SECURITY R6). Returns the client ids
 * whose consent was withdrawn.
 */
export async function withdrawConsent(
  ctx: Pick<IdpContext, 'store' | 'request'> & { audit?: IdpContext['audit'] },
  sub: string,
  clientId?: string,
): Promise<string[]> {
  const prefix = clientId === undefined ? `${encodeURIComponent(sub)}/` : consentId(sub, clientId);
  const consents =
    clientId === undefined ? await ctx.store.list<Consent>('consent', prefix) : [await ctx.store.find<Consent>('consent', prefix)];
  const withdrawn: string[] = [];
  for (const record of consents) {
    if (!record) continue;
    const client = decodeURIComponent(record.id.slice(record.id.indexOf('/') + 1));
    await ctx.store.delete('consent', record.id);
    const revoked = await revokeLinkedGrants(ctx.store, consentLinks(sub, client), { keepOffline: false });
    ctx.audit?.record({ event: 'consent.withdrawn', outcome: 'success', sub, client, data: { grants_revoked: revoked } }, ctx.request);
    withdrawn.push(client);
  }
  return withdrawn;
}
