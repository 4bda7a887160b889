// Palisade's resource-server SDK in front of a fixed JSON answer: the cost a tool pays per request to
// accept only its own tokens. CACHE=off verifies every request's signature (the floor's work); by default
// the SDK keeps verified tokens until they expire.
import { createServer } from 'node:http';
import { TokenVerifier } from '@palisade/resource-server';
import { protectNodeHandler } from '@palisade/resource-server/node';

const verifier = new TokenVerifier({
  issuer: process.env.ISSUER,
  audience: 'http://127.0.0.1:9401/mcp',
  cacheVerified: process.env.CACHE !== 'off',
});
const body = JSON.stringify({ ok: true });
const handler = protectNodeHandler(verifier, (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
});
createServer((request, response) => void handler(request, response)).listen(Number(process.env.PORT), '127.0.0.1', () =>
  process.send?.({ port: Number(process.env.PORT) }),
);
