import { type AuthInfo, createMcpHandler, fromJsonSchema, type McpHttpHandler, McpServer } from '@modelcontextprotocol/server';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import type { VerifiedToken } from '@palisade/resource-server';
import { type CallContext, runCall } from './call.js';
import type { Arguments } from './template.js';
import type { GatewayTool } from './tools.js';

/** The verified token travels to the MCP layer inside the SDK's AuthInfo. */
export function authInfoOf(token: VerifiedToken, resource: string): AuthInfo {
  return {
    token: token.token,
    clientId: token.clientId,
    scopes: [...token.scope],
    expiresAt: token.exp,
    resource: new URL(resource),
    extra: { palisade: token },
  };
}

function tokenOf(authInfo: AuthInfo | undefined): VerifiedToken {
  const token = authInfo?.extra?.palisade as VerifiedToken | undefined;
  // The HTTP layer refused every request without a verified token; reaching here without one is a bug.
  if (!token) throw new Error('no verified token reached the MCP layer');
  return token;
}

/**
 * The MCP face of the gateway (official SDK, Streamable HTTP): protocol
 * 2026-07-28 per request, and 2025-06-18 / 2025-11-25 through the SDK's
 * stateless legacy fallback. A server instance is built per request for the
 * caller's token, so `tools/list` shows only the tools that token could use;
 * the input schemas and their validator are compiled once (FIELD-NOTES).
 */
export function mcpHandler(options: { name: string; version: string; tools: readonly GatewayTool[]; call: CallContext }): McpHttpHandler {
  const validator = new AjvJsonSchemaValidator();
  const schemas = new Map(options.tools.map((tool) => [tool.name, fromJsonSchema<Arguments>(tool.config.input_schema, validator)]));
  return createMcpHandler(
    ({ authInfo }) => {
      const token = tokenOf(authInfo);
      const server = new McpServer(
        { name: options.name, version: options.version },
        { capabilities: { tools: {} }, jsonSchemaValidator: validator },
      );
      for (const tool of options.tools) {
        if (!tool.possibleWith(token)) continue;
        const { title, description, annotations } = tool.config;
        server.registerTool(
          tool.name,
          {
            description,
            inputSchema: schemas.get(tool.name),
            ...(title ? { title } : {}),
            ...(annotations ? { annotations } : {}),
          },
          async (args, ctx) => {
            const progressToken = ctx.mcpReq._meta?.progressToken;
            let progress = 0;
            const onProgress = async (message: string) => {
              if (progressToken === undefined) return;
              progress += 1;
              await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, message } });
            };
            return runCall(options.call, token, tool, args as Arguments, { onProgress, signal: ctx.mcpReq.signal });
          },
        );
      }
      return server;
    },
    { legacy: 'stateless' },
  );
}
