// Palisade's IdP on the demo realm, in its own process, with a fresh SQLite store.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdp, parseConfig } from '@palisade/idp';
import { SqliteStore } from '@palisade/store';
import { parse } from 'yaml';

const port = Number(process.env.PORT);
const dataDir = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
const document = parse(readFileSync(new URL('../../examples/demo/palisade.yaml', import.meta.url), 'utf8'));
// One load generator on one address and one client: limits far above what it can send keep the limiter's cost in the figure.
const unlimited = { per_client: 1e9, per_ip: 1e9 };
document.rate_limits = { token: unlimited, par: unlimited, backchannel_authentication: unlimited };
const config = parseConfig(document, 'bench', { PALISADE_IDP_PORT: String(port), PALISADE_DATA: dataDir });
// As `palisade start` opens it (packages/cli/src/store.ts): writes and WAL checkpoints on worker threads.
const store = new SqliteStore(join(dataDir, 'palisade.db'), undefined, { backgroundCheckpoints: true, writerThread: true });
const idp = await createIdp({ config, store });
await idp.listen({ host: '127.0.0.1', port });
process.send?.({ port });
process.on('message', (message) => message === 'exit' && process.exit(0));
