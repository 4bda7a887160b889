// One IdP node of a cluster, in its own process: the demo realm on a shared PostgreSQL schema.
// ISSUER_PORT names the cluster's public port (the issuer), PORT this node's own.
import { readFileSync } from 'node:fs';
import { createIdp, parseConfig } from '@palisade/idp';
import { PostgresStore } from '@palisade/store';
import { parse } from 'yaml';

const port = Number(process.env.PORT);
const document = parse(readFileSync(new URL('../../examples/demo/palisade.yaml', import.meta.url), 'utf8'));
const config = parseConfig(document, 'bench', { PALISADE_IDP_PORT: process.env.ISSUER_PORT, PALISADE_DATA: '/nonexistent' });
const store = await PostgresStore.connect({
  connectionString: process.env.DATABASE_URL,
  options: `-c search_path=${process.env.SCHEMA}`,
  max: 10,
});
const idp = await createIdp({ config, store });
await idp.listen({ host: '127.0.0.1', port });
process.send?.({ port });
