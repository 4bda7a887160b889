import { loadConfigFile, withdrawConsent } from '@palisade/idp';
import { withAuditTrail } from '../audit-trail.js';
import { openStore } from '../store.js';

/**
 * `palisade consent revoke --config FILE --user NAME [--client ID]`: an
 * administrator withdraws a user's consent (offboarding, incident response).
 * Every grant made under it is revoked, refresh tokens included.
 */
export async function consentRevoke(file: string | undefined, username: string | undefined, clientId: string | undefined): Promise<number> {
  if (!file || !username) {
    process.stderr.write('usage: palisade consent revoke --config FILE --user NAME [--client ID]\n');
    return 2;
  }
  const config = loadConfigFile(file);
  const user = config.users.find((u) => u.username === username);
  if (!user) {
    process.stderr.write(`no user named ${username} in ${file}\n`);
    return 2;
  }
  const store = await openStore(config);
  try {
    const withdrawn = await withAuditTrail(store, config, (audit) =>
      withdrawConsent({ store, audit }, user.sub ?? user.username, clientId),
    );
    process.stdout.write(
      withdrawn.length === 0 ? 'no consent to withdraw\n' : `withdrew consent of ${username} for ${withdrawn.join(', ')}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
