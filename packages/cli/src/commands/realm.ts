import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { systemClock } from '@palisade/core';
import { Keystore, keyRetention, loadConfigFile, parseConfig } from '@palisade/idp';
import argon2 from 'argon2';
import { isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from 'yaml';
import { openStore } from '../store.js';
import { readStdin } from './hash-password.js';

export class RealmUsageError extends Error {}

export interface RealmOptions {
  readonly config?: string | undefined;
  readonly user?: string | undefined;
  readonly client?: string | undefined;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  readonly groups?: string | undefined;
  readonly redirectUri?: string | undefined;
  readonly secretEnv?: string | undefined;
  readonly json?: boolean | undefined;
}

function configFile(options: RealmOptions): string {
  if (!options.config) throw new RealmUsageError('--config FILE is required');
  return options.config;
}

const print = (text: string) => process.stdout.write(text);

/** `palisade users list`: who can sign in, never a hash or secret. */
export function usersList(options: RealmOptions): number {
  const config = loadConfigFile(configFile(options));
  const users = config.users.map((u) => ({
    username: u.username,
    name: u.name,
    email: u.email ?? null,
    groups: u.groups,
    totp: u.totp_secret !== undefined,
  }));
  if (options.json) print(`${JSON.stringify(users)}\n`);
  else
    for (const u of users)
      print(
        `${u.username.padEnd(14)} ${u.name.padEnd(20)} ${(u.email ?? '').padEnd(24)} ${u.groups.join(',').padEnd(16)} ${u.totp ? 'TOTP' : 'password only'}\n`,
      );
  return 0;
}

/** `palisade clients list`: each client's kind, grants and authentication. */
export function clientsList(options: RealmOptions): number {
  const config = loadConfigFile(configFile(options));
  const clients = config.clients.map((c) => ({
    client_id: c.client_id,
    name: c.name ?? c.client_id,
    auth: [c.token_endpoint_auth_method].flat(),
    grant_types: c.grant_types,
  }));
  if (options.json) print(`${JSON.stringify(clients)}\n`);
  else for (const c of clients) print(`${c.client_id.padEnd(18)} ${c.auth.join(',').padEnd(40)} ${c.grant_types.join(', ')}\n`);
  return 0;
}

/** `palisade keys list`: the published keys, and which one signs for each algorithm. */
export async function keysList(options: RealmOptions): Promise<number> {
  const config = loadConfigFile(configFile(options));
  const store = await openStore(config);
  try {
    const keystore = new Keystore(store, systemClock, config.keys.algorithms, keyRetention(config), config.issuer);
    await keystore.initialize();
    const signing = new Set(config.keys.algorithms.map((alg) => keystore.signingKey(alg).kid));
    const keys = keystore.jwks.keys.map((k) => ({ kid: k.kid ?? '', alg: k.alg ?? '', signing: signing.has(k.kid ?? '') }));
    if (options.json) print(`${JSON.stringify(keys)}\n`);
    else
      for (const k of keys)
        print(`${k.kid.padEnd(24)} ${k.alg.padEnd(6)} ${k.signing ? 'signing' : 'published (verifies tokens it signed earlier)'}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Edits the configuration file in place, keeping its comments and layout
 * (yaml's document API): the edited document must pass the same checks as
 * at start-up before it replaces the file (written beside it, then renamed,
 * with the file's mode kept). Running servers apply it at their next start.
 */
function editConfig(
  file: string,
  edit: (users: YAMLSeq<YAMLMap>, clients: YAMLSeq<YAMLMap>, node: (value: object) => YAMLMap) => void,
): void {
  const document = parseDocument(readFileSync(file, 'utf8'));
  for (const key of ['users', 'clients']) if (!isSeq(document.get(key))) document.set(key, document.createNode([]));
  edit(
    document.get('users') as YAMLSeq<YAMLMap>,
    document.get('clients') as YAMLSeq<YAMLMap>,
    (value) => document.createNode(value) as YAMLMap,
  );
  parseConfig(document.toJS(), file);
  const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, document.toString(), { mode: statSync(file).mode & 0o777 });
  renameSync(temporary, file);
}

function findUser(users: YAMLSeq<YAMLMap>, username: string): YAMLMap {
  const user = users.items.find((item) => isMap(item) && item.get('username') === username);
  if (!user) throw new RealmUsageError(`no user ${username}`);
  return user;
}

/** A password from stdin (never an argument: it would show in `ps` and shell history), as argon2id. */
async function passwordHash(): Promise<string> {
  const password = await readStdin();
  if (password.length < 8) throw new RealmUsageError('give the password on stdin, at least 8 characters');
  return argon2.hash(password, { type: argon2.argon2id });
}

/** `palisade users add --user NAME --name "Full Name" [--email E] [--groups a,b]` (password on stdin). */
export async function usersAdd(options: RealmOptions): Promise<number> {
  const file = configFile(options);
  if (!options.user || !options.name)
    throw new RealmUsageError('palisade users add --config FILE --user NAME --name "Full Name" [--email E] [--groups a,b] < password');
  const hash = await passwordHash();
  editConfig(file, (users, _clients, node) => {
    if (users.items.some((item) => isMap(item) && item.get('username') === options.user))
      throw new RealmUsageError(`user ${options.user} exists`);
    users.add(
      node({
        username: options.user,
        name: options.name,
        ...(options.email ? { email: options.email } : {}),
        groups: options.groups ? options.groups.split(',').filter(Boolean) : [],
        password_hash: hash,
      }),
    );
  });
  print(`added ${options.user}; restart the IdP to apply\n`);
  return 0;
}

/** `palisade users set-password --user NAME` (password on stdin). */
export async function usersSetPassword(options: RealmOptions): Promise<number> {
  const file = configFile(options);
  if (!options.user) throw new RealmUsageError('palisade users set-password --config FILE --user NAME < password');
  const hash = await passwordHash();
  editConfig(file, (users) => findUser(users, options.user as string).set('password_hash', hash));
  print(`password of ${options.user} set; restart the IdP to apply\n`);
  return 0;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** `palisade users enroll-totp --user NAME`: a new 160-bit secret (RFC 4226 §4), shown once as an otpauth URI. */
export function usersEnrollTotp(options: RealmOptions): number {
  const file = configFile(options);
  if (!options.user) throw new RealmUsageError('palisade users enroll-totp --config FILE --user NAME');
  const bytes = randomBytes(20);
  let bits = '';
  for (const byte of bytes) bits += byte.toString(2).padStart(8, '0');
  const secret = (bits.match(/.{5}/g) ?? []).map((chunk) => BASE32[Number.parseInt(chunk, 2)]).join('');
  editConfig(file, (users) => findUser(users, options.user as string).set('totp_secret', secret));
  const issuer = new URL(loadConfigFile(file).issuer).host;
  const label = encodeURIComponent(`Palisade (${issuer}):${options.user}`);
  print(
    `Scan this into the authenticator app (shown once; restart the IdP to apply):\n  otpauth://totp/${label}?secret=${secret}&issuer=${encodeURIComponent(`Palisade (${issuer})`)}\n`,
  );
  return 0;
}

/**
 * `palisade clients add --client ID --redirect-uri URL`: a public agent
 * (authorization code + PKCE, refresh); `--secret-env VAR` instead: a
 * confidential client-credentials agent whose secret the file names as
 * `${VAR}`, never writes.
 */
export function clientsAdd(options: RealmOptions): number {
  const file = configFile(options);
  if (!options.client || (!options.redirectUri && !options.secretEnv))
    throw new RealmUsageError('palisade clients add --config FILE --client ID (--redirect-uri URL | --secret-env VAR) [--name NAME]');
  if (options.secretEnv && !process.env[options.secretEnv])
    throw new RealmUsageError(`set ${options.secretEnv} first (the secret stays in the environment)`);
  editConfig(file, (_users, clients, node) => {
    if (clients.items.some((item) => isMap(item) && item.get('client_id') === options.client))
      throw new RealmUsageError(`client ${options.client} exists`);
    clients.add(
      node(
        options.secretEnv
          ? {
              client_id: options.client,
              name: options.name ?? options.client,
              client_secret: `\${${options.secretEnv}}`,
              token_endpoint_auth_method: 'client_secret_basic',
              grant_types: ['client_credentials'],
            }
          : {
              client_id: options.client,
              name: options.name ?? options.client,
              token_endpoint_auth_method: 'none',
              grant_types: ['authorization_code', 'refresh_token'],
              redirect_uris: [options.redirectUri],
            },
      ),
    );
  });
  print(`added client ${options.client}; give it scopes, resources and detail types in ${file}, then restart the IdP\n`);
  return 0;
}
