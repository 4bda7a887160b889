import { parseArgs } from 'node:util';
import { loadGatewayConfig } from '@palisade/gateway';
import { ConfigError, loadConfigFile } from '@palisade/idp';
import { agent } from './commands/agent.js';
import { audit } from './commands/audit.js';
import { configCheck } from './commands/config-check.js';
import { consentRevoke } from './commands/consent-revoke.js';
import { dbMigrate } from './commands/db-migrate.js';
import { dbExport, dbImport } from './commands/db-transfer.js';
import { DEMO_CONFIG, demo, serveTools, start } from './commands/demo.js';
import { serveGateway } from './commands/gateway.js';
import { hashPassword } from './commands/hash-password.js';
import { keysRotate } from './commands/keys-rotate.js';
import {
  clientsAdd,
  clientsList,
  keysList,
  RealmUsageError,
  usersAdd,
  usersEnrollTotp,
  usersList,
  usersSetPassword,
} from './commands/realm.js';
import { closeOnSignal, serveIdp } from './commands/serve.js';

const USAGE = `usage: palisade <command>

  start [--config FILE]        every component in one process: the IdP, the demo tools and the MCP gateway
                               (gateway.yaml beside FILE; the demo realm by default)
  demo [--headless] [--auto-approve]
                               walk through every flow against the running demo domain (or start it)
  idp --config FILE            start the identity provider
  gateway --config FILE        start the MCP gateway (examples/demo/gateway.yaml)
  config check FILE            validate a configuration file without starting
  keys rotate --config FILE    generate new signing keys; old ones stay published until their tokens expire
  keys list --config FILE      the published keys, and which sign
  tool files|reports|payments|hr [--config FILE]
                               one demo tool (for real deployments, one process each)
  users list --config FILE     who can sign in (never a hash)
  users add --config FILE --user NAME --name "Full Name" [--email E] [--groups a,b]   (password on stdin)
  users set-password --config FILE --user NAME                                        (password on stdin)
  users enroll-totp --config FILE --user NAME   a new TOTP secret, shown once as an otpauth:// URI
  clients list --config FILE
  clients add --config FILE --client ID (--redirect-uri URL | --secret-env VAR) [--name NAME]
                               a public PKCE agent, or a client-credentials agent whose secret stays in $VAR
  consent revoke --config FILE --user NAME [--client ID]
                               withdraw a user's consent and revoke the grants made under it
  db migrate --config FILE     apply PostgreSQL schema migrations (store.postgres)
  db export --config FILE [--out FILE]
                               every live record and the audit chain as JSON Lines (holds keys: mode 0600)
  db import --config FILE EXPORT_FILE
                               load an export into the configured (empty) store: SQLite → PostgreSQL or back
  audit verify --config FILE   recompute the audit chain and check its signed checkpoints
  audit tail --config FILE [-n 20] [--follow] [--json]
  audit query --config FILE [--user SUB] [--client ID] [--trace ID] [--event NAME] [--outcome failure] [--since 1h] [--json]
  audit export --config FILE [--out FILE]
                               the audit trail as JSON Lines, with the hashes that chain it
  hash-password                read a password on stdin, print its argon2id hash
  agent login|token|tools|call|approve-request
                               act as an agent: sign in, get tokens, list and call the gateway's tools,
                               ask a person to approve (palisade agent --help)
`;

/** The `palisade` command line. Returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // The agent commands have options of their own (commands/agent.ts).
  if (argv[0] === 'agent') return agent(argv.slice(1));
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string' },
      client: { type: 'string' },
      trace: { type: 'string' },
      event: { type: 'string' },
      outcome: { type: 'string' },
      since: { type: 'string' },
      lines: { type: 'string', short: 'n' },
      json: { type: 'boolean' },
      follow: { type: 'boolean', short: 'f' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
      headless: { type: 'boolean' },
      name: { type: 'string' },
      email: { type: 'string' },
      groups: { type: 'string' },
      'redirect-uri': { type: 'string' },
      'secret-env': { type: 'string' },
      'auto-approve': { type: 'boolean' },
    },
  });
  const [command, sub, arg] = positionals;
  try {
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (command === 'start') return await start(values.config);
    if (command === 'demo')
      return await demo({ headless: values.headless === true, autoApprove: values['auto-approve'] === true, config: values.config });
    if (command === 'idp') {
      if (!values.config) throw new UsageError('palisade idp --config FILE');
      const running = await serveIdp(loadConfigFile(values.config));
      closeOnSignal(running);
      process.stdout.write(`Palisade IdP listening at ${Object.values(running.urls)[0]}\n`);
      return 0;
    }
    if (command === 'gateway') {
      if (!values.config) throw new UsageError('palisade gateway --config FILE');
      const running = await serveGateway(loadGatewayConfig(values.config));
      closeOnSignal(running);
      process.stdout.write(`Palisade MCP gateway listening at ${Object.values(running.urls)[0]}\n`);
      return 0;
    }
    if (command === 'tool') {
      if (!sub || !['files', 'reports', 'payments', 'hr'].includes(sub))
        throw new UsageError('palisade tool files|reports|payments|hr [--config FILE]');
      const config = loadConfigFile(values.config ?? DEMO_CONFIG);
      const running = await serveTools(config.issuer, config.data_dir, sub);
      closeOnSignal(running);
      process.stdout.write(
        `${Object.entries(running.urls)
          .map(([name, url]) => `${name} listening at ${url}`)
          .join('\n')}\n`,
      );
      return 0;
    }
    if (command === 'users' && sub === 'list') return usersList(values);
    if (command === 'users' && sub === 'add') return await usersAdd(values);
    if (command === 'users' && sub === 'set-password') return await usersSetPassword(values);
    if (command === 'users' && sub === 'enroll-totp') return usersEnrollTotp(values);
    if (command === 'clients' && sub === 'list') return clientsList(values);
    if (command === 'clients' && sub === 'add')
      return clientsAdd({ ...values, redirectUri: values['redirect-uri'], secretEnv: values['secret-env'] });
    if (command === 'keys' && sub === 'list') return await keysList(values);
    if (command === 'config' && sub === 'check') return configCheck(arg ?? values.config);
    if (command === 'keys' && sub === 'rotate') return await keysRotate(values.config ?? arg);
    if (command === 'consent' && sub === 'revoke') return await consentRevoke(values.config, values.user, values.client);
    if (command === 'db' && sub === 'migrate') return await dbMigrate(values.config ?? arg);
    if (command === 'db' && sub === 'export') return await dbExport(values.config, values.out);
    if (command === 'db' && sub === 'import') return await dbImport(values.config, arg);
    if (command === 'hash-password') return await hashPassword();
    if (command === 'audit') return await audit(sub, values);
    throw new UsageError(USAGE);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof RealmUsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

class UsageError extends Error {}
