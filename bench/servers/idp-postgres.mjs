// One IdP node of a cluster, in its own process: the demo realm on a shared PostgreSQL schema.
// ISSUER_PORT names the cluster's public port (the issuer; this node's own PORT when absent).
import { readFileSync } from 'node:fs';
import { createIdp, parseConfig } from '@palisade/idp';
import { PostgresStore } from '@palisade/store';
import { parse } from 'yaml';

const port = Number(process.env.PORT);
const document = parse(readFileSync(new URL('../../examples/demo/palisade.yaml', import.meta.url), 'utf8'));
// One load generator on one address and one client: limits far above what it can send keep the limiter's cost in the figure.
const unlimited = { per_client: 1e9, per_ip: 1e9 };
document.rate_limits = { token: unlimited, par: unlimited, backchannel_authentication: unlimited };
const config = parseConfig(document, 'bench', {
  PALISADE_IDP_PORT: process.env.ISSUER_PORT ?? process.env.PORT,
  PALISADE_DATA: '/nonexistent',
});
const store = await PostgresStore.connect({
  connectionString: process.env.DATABASE_URL,
  options: `-c search_path=${process.env.SCHEMA}`,
  max: 10,
});
const idp = await createIdp({ config, store });
await idp.listen({ host: '127.0.0.1', port });
process.send?.({ port });
