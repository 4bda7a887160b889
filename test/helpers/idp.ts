import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@palisade/core';
import { createIdp, type Idp, type IdpOptions, type ParsedConfig, parseConfig } from '@palisade/idp';
import { SqliteStore } from '@palisade/store';
import { parse as parseYaml } from 'yaml';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../examples/demo/palisade.yaml', import.meta.url));

/** The demo realm's published credentials (README). */
export const DEMO = {
  alice: { username: 'alice', password: 'alice-password', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' },
  bob: { username: 'bob', password: 'bob-password' },
  carol: { username: 'carol', password: 'carol-password' },
  opsBot: { id: 'ops-bot', secret: 'ops-bot-secret' },
  assistant: { id: 'assistant', secret: 'assistant-secret', redirectUri: 'http://127.0.0.1:8765/callback' },
  cli: { id: 'palisade-cli' },
  gateway: 'http://127.0.0.1:9401/mcp',
  mcpGateway: { id: 'mcp-gateway', secret: 'mcp-gateway-secret' },
  reportService: { id: 'report-service', secret: 'report-service-secret' },
  tools: {
    files: 'http://127.0.0.1:9410',
    reports: 'http://127.0.0.1:9411',
    payments: 'http://127.0.0.1:9412',
    hr: 'http://127.0.0.1:9413',
  },
} as const;

/**
 * The real time, movable forward: for tests where other parties read the
 * wall clock too (DPoP proofs, subprocesses), while TOTP steps still need
 * to be skipped ahead.
 */
export class WallClock extends ManualClock {
  #offset = 0;
  override now(): number {
    return Math.floor(Date.now() / 1000) + this.#offset;
  }
  override advance(seconds: number): void {
    this.#offset += seconds;
  }
}

/**
 * A loopback port held until `release()`: for a server whose own URL must be
 * written into configuration before it can start (the gateway's canonical
 * URI). Releasing right before listening leaves a window of microseconds,
 * where `freePort()` leaves the whole start-up of the servers before it for
 * another test to take the port.
 */
export async function reservePort(): Promise<{ port: number; release: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A free TCP port on loopback (the issuer must be known before the server starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Lets the demo `assistant` send plain (front-channel) authorization requests,
 * for tests of the authorization endpoint's own validation; the demo realm
 * requires PAR for it (RFC 9126 §5), which security-par tests on its own.
 */
export function allowFrontChannel(document: ConfigDocument): void {
  const assistant = document.clients.find((c) => c.client_id === 'assistant');
  if (assistant) assistant.require_pushed_authorization_requests = false;
}

export type ConfigDocument = Record<string, unknown> & { clients: Record<string, unknown>[] };

export interface TestIdp {
  readonly issuer: string;
  readonly idp: Idp;
  readonly clock: ManualClock;
  readonly config: ParsedConfig;
  readonly dataDir: string;
  /** Stops the server, keeping the data directory (for restart tests). */
  stop(): Promise<void>;
  /** Stops the server and deletes its data. */
  close(): Promise<void>;
}

export interface TestIdpOptions {
  /** Edit the demo configuration document before it is parsed. */
  readonly mutate?: (document: ConfigDocument) => void;
  /** Reuse a data directory (restart tests). */
  readonly dataDir?: string;
  readonly port?: number;
  readonly clock?: ManualClock;
  /** Fastify/pino logger options (tests that inspect what is logged). */
  readonly logger?: IdpOptions['logger'];
}

/**
 * The demo realm's IdP on an ephemeral loopback port, with its own SQLite
 * file and a clock the test can move. Real HTTP: drive it with real clients.
 */
export async function startTestIdp(options: TestIdpOptions = {}): Promise<TestIdp> {
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'palisade-idp-'));
  const document = parseYaml(readFileSync(DEMO_CONFIG, 'utf8')) as ConfigDocument;
  options.mutate?.(document);
  const config = parseConfig(document, 'test config', { PALISADE_IDP_PORT: String(port), PALISADE_DATA: dataDir });
  const clock = options.clock ?? new ManualClock();
  const store = new SqliteStore(join(dataDir, 'palisade.db'), clock);
  const idp = await createIdp({ config, store, clock, ...(options.logger ? { logger: options.logger } : {}) });
  await idp.listen({ host: '127.0.0.1', port });
  const stop = async () => {
    await idp.close();
    await store.close();
    // Let clients' pooled keep-alive sockets see the close before a restart on the same port reuses them.
    await new Promise((resolve) => setTimeout(resolve, 50));
  };
  return {
    issuer: config.issuer,
    idp,
    clock,
    config,
    dataDir,
    stop,
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
