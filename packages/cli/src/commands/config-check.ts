import { loadConfigFile } from '@palisade/idp';

/** `palisade config check FILE`: validates without starting anything. */
export function configCheck(file: string | undefined): number {
  if (!file) {
    process.stderr.write('usage: palisade config check FILE\n');
    return 2;
  }
  const config = loadConfigFile(file);
  process.stdout.write(
    `${file}: valid (issuer ${config.issuer}, ${config.users.length} users, ${config.clients.length} clients, ${config.resource_servers.length} resource servers)\n`,
  );
  return 0;
}
