import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoredKeyPair } from './dpop.js';

/** What a user agent keeps between runs. */
export interface StoredTokens {
  readonly accessToken: string;
  readonly refreshToken?: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly scope?: string;
  readonly authorizationDetails?: readonly Record<string, unknown>[];
  /** The DPoP key the tokens are bound to (RFC 9449), when the agent signed in with one. */
  readonly dpopKey?: StoredKeyPair;
}

export interface TokenStore {
  load(): Promise<StoredTokens | undefined>;
  save(tokens: StoredTokens): Promise<void>;
  clear(): Promise<void>;
}

/** Tokens for this process only. */
export class MemoryTokenStore implements TokenStore {
  #tokens: StoredTokens | undefined;
  async load() {
    return this.#tokens;
  }
  async save(tokens: StoredTokens) {
    this.#tokens = tokens;
  }
  async clear() {
    this.#tokens = undefined;
  }
}

/**
 * Tokens in a JSON file only its owner can read (0600, in a 0700 directory
 * when it creates one): a refresh token is a credential.
 */
export class FileTokenStore implements TokenStore {
  constructor(readonly path: string) {}

  async load(): Promise<StoredTokens | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as StoredTokens;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async save(tokens: StoredTokens): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFile(this.path, `${JSON.stringify(tokens)}\n`, { mode: 0o600 });
    // An existing file keeps its old mode on write: make sure.
    await chmod(this.path, 0o600);
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
