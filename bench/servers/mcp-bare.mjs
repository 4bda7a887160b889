// The baseline: a bare official-SDK MCP server (stateless, no authorization) with the same trivial
// tool, built the way the SDK documents (one shared validator). With DOWNSTREAM_URL the tool makes
// the same downstream HTTP call the gateway makes (without a token); without it, it answers in-process.
// AUTH=bearer puts the SDK's own bearer check (verifyBearerToken) in front, with a JWT verifier on the
// IdP's JWKS at ISSUER (jose, keys fetched once): what an SDK user would write.
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, fromJsonSchema, McpServer, OAuthError, verifyBearerToken } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const SCHEDULES = [
  { report: 'Q4-report.pdf', folder: 'finance', every: 'quarter', next: '2027-01-05' },
  { report: 'budget-2027.xlsx', folder: 'finance', every: 'year', next: '2027-11-15' },
];
const validator = new AjvJsonSchemaValidator();
const input = fromJsonSchema({ type: 'object', properties: {}, additionalProperties: false }, validator);
const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'bare', version: '1.0.0' }, { capabilities: { tools: {} }, jsonSchemaValidator: validator });
  server.registerTool('reports.schedules', { description: 'Report schedules', inputSchema: input }, async () => {
    const structuredContent = process.env.DOWNSTREAM_URL
      ? await (await fetch(`${process.env.DOWNSTREAM_URL}/schedules`)).json()
      : { schedules: SCHEDULES };
    return { content: [{ type: 'text', text: JSON.stringify(structuredContent) }], structuredContent };
  });
  return server;
});
const serve = toNodeHandler(handler);
const resource = 'http://127.0.0.1:9401/mcp';
const jwks = process.env.ISSUER ? createRemoteJWKSet(new URL(`${process.env.ISSUER}/jwks`)) : undefined;
const verifier = {
  async verifyAccessToken(token) {
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: process.env.ISSUER, audience: resource, typ: 'at+jwt' });
      return {
        token,
        clientId: String(payload.client_id),
        scopes: String(payload.scope ?? '').split(' '),
        expiresAt: payload.exp,
        resource: new URL(resource),
      };
    } catch {
      throw new OAuthError('invalid_token', 'the token is invalid');
    }
  },
};
async function authorized(request, response) {
  try {
    request.auth = await verifyBearerToken(request.headers.authorization, { verifier, expectedResource: new URL(resource) });
    return serve(request, response);
  } catch {
    response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
  }
}
createServer((request, response) => void (process.env.AUTH === 'bearer' ? authorized(request, response) : serve(request, response))).listen(
  Number(process.env.PORT),
  '127.0.0.1',
  () => process.send?.({ port: Number(process.env.PORT) }),
);
