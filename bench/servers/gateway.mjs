// The MCP gateway of examples/demo/gateway.yaml in its own process: canonical URI
// http://127.0.0.1:9401/mcp (the realm's), listening on PORT, reaching the reports tool at REPORTS_URL;
// EXCHANGE_CACHE=off exchanges a token on every call (the cold figure).
import { readFileSync } from 'node:fs';
import { createGateway, parseGatewayConfig } from '@palisade/gateway';
import { parse } from 'yaml';

const document = parse(readFileSync(new URL('../../examples/demo/gateway.yaml', import.meta.url), 'utf8'));
for (const tool of document.tools) tool.call.url = tool.call.url.replace('http://127.0.0.1:9411', process.env.REPORTS_URL);
delete document.audit;
const config = parseGatewayConfig(document, 'bench', { PALISADE_IDP_PORT: new URL(process.env.ISSUER).port });
const gateway = await createGateway(config, { port: Number(process.env.PORT), exchangeCache: process.env.EXCHANGE_CACHE !== 'off' });
await gateway.listen();
process.send?.({ port: Number(process.env.PORT) });
