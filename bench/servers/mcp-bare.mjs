// The baseline: a bare official-SDK MCP server (stateless, no authorization) with the same trivial
// tool, built the way the SDK documents (one shared validator). With DOWNSTREAM_URL the tool makes
// the same downstream HTTP call the gateway makes (without a token); without it, it answers in-process.
import { createServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, fromJsonSchema, McpServer } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';

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
createServer((request, response) => void serve(request, response)).listen(Number(process.env.PORT), '127.0.0.1', () =>
  process.send?.({ port: Number(process.env.PORT) }),
);
