import { readFileSync } from 'node:fs';
import { ConfigError, describeIssue, interpolateEnv } from '@palisade/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { templateProblems } from './template.js';

const absoluteUrl = z.url({ protocol: /^https?$/ });
const jsonObject = z.record(z.string(), z.unknown());

/** `{argument}` compared as an exact decimal (amounts are strings, never floats). */
const condition = z.strictObject({
  argument: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  greater_than: z.string().regex(/^[0-9]{1,15}(\.[0-9]{1,6})?$/, 'must be a decimal string such as "10000.00"'),
});

const toolSchema = z.strictObject({
  /** MCP tool name (2025-11-25: 1–128 of A–Z a–z 0–9 _ - .). */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  title: z.string().min(1).optional(),
  description: z.string().min(1),
  /** JSON Schema of the arguments (an object schema; `additionalProperties: false` is advised). */
  input_schema: jsonObject.refine((schema) => schema.type === 'object', 'must be an object schema (type: object)'),
  annotations: z
    .strictObject({
      readOnlyHint: z.boolean().optional(),
      destructiveHint: z.boolean().optional(),
      idempotentHint: z.boolean().optional(),
      openWorldHint: z.boolean().optional(),
    })
    .optional(),
  /** The downstream HTTP call: `{argument}` placeholders in the URL are percent-encoded. */
  call: z.strictObject({
    audience: absoluteUrl,
    method: z.enum(['GET', 'POST', 'PUT', 'DELETE']),
    url: z.string().min(1),
    body: jsonObject.optional(),
    /** `saml2`: the tool takes a SAML assertion (RFC 8693 requested_token_type), sent as `Authorization: SAML <base64url>`. */
    token_type: z.enum(['access_token', 'saml2']).default('access_token'),
  }),
  /** The authorization details the call needs, as templates over its arguments (RFC 9396). */
  requires: z.array(jsonObject.refine((d) => typeof d.type === 'string', 'needs a type')).min(1),
  /** A person approves the call on their device first (CIBA): always, or when any condition holds. */
  approval: z
    .strictObject({
      when: z.array(condition).min(1).optional(),
      binding_message: z.string().min(1).max(128),
    })
    .optional(),
});

export const gatewayConfigSchema = z.strictObject({
  issuer: absoluteUrl,
  /** The gateway's canonical URI (RFC 8707, RFC 9728 `resource`): the audience of its tokens. */
  resource: absoluteUrl,
  name: z.string().default('Palisade MCP gateway'),
  listen: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535),
    /** Serve https with this certificate chain and key (PEM files); the resource must then be an https URL. */
    tls: z.strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1) }).optional(),
  }),
  /** The gateway's own client at the IdP: the actor of every exchange, the client of CIBA in ping mode. */
  client: z.strictObject({ client_id: z.string().min(1), client_secret: z.string().min(8) }),
  approvals: z
    .strictObject({
      /** How the IdP tells the gateway that a person decided (CIBA §10). */
      mode: z.enum(['ping', 'push']).default('ping'),
      /** The push-mode registration (CIBA allows one delivery mode per client). */
      push_client: z.strictObject({ client_id: z.string().min(1), client_secret: z.string().min(8) }).optional(),
      /** Seconds a tool call waits for the person's decision. */
      wait: z.number().int().min(5).max(900).default(120),
      /** Seconds between progress notifications while waiting. */
      progress_interval: z.number().int().min(1).max(60).default(5),
    })
    .prefault({}),
  /** DPoP (RFC 9449), ADR 0010. */
  dpop: z
    .strictObject({
      /** Bind the gateway's own tokens (exchanged, approvals, its client token) to a key only this process holds. */
      bind_downstream_tokens: z.boolean().default(true),
      /** Refuse Bearer tokens from agents: every caller must present a DPoP-bound token with its proof. */
      require_for_callers: z.boolean().default(false),
    })
    .prefault({}),
  /** The gateway reports each decision to the IdP's audit trail; events wait in this file while the IdP is away. */
  audit: z.strictObject({ buffer_file: z.string().min(1).optional() }).prefault({}),
  /** Scopes a token must carry to use the gateway at all. */
  scopes: z.array(z.string().min(1)).default(['tools.access']),
  tools: z.array(toolSchema).min(1),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
export type ToolConfig = z.infer<typeof toolSchema>;

function crossCheck(config: GatewayConfig): string[] {
  const problems: string[] = [];
  if (config.listen.tls && !config.resource.startsWith('https:')) problems.push('listen.tls is set, so resource must be an https URL');
  const names = new Set<string>();
  config.tools.forEach((tool, i) => {
    const at = `tools[${i}]`;
    if (names.has(tool.name)) problems.push(`${at}.name: ${tool.name} is declared twice`);
    names.add(tool.name);
    const declared = new Set(Object.keys((tool.input_schema.properties ?? {}) as object));
    problems.push(...templateProblems(tool.call.url, declared, `${at}.call.url`));
    if (tool.call.body) problems.push(...templateProblems(tool.call.body, declared, `${at}.call.body`));
    tool.requires.forEach((detail, j) => {
      problems.push(...templateProblems(detail, declared, `${at}.requires[${j}]`));
    });
    if (tool.approval) {
      problems.push(...templateProblems(tool.approval.binding_message, declared, `${at}.approval.binding_message`));
      tool.approval.when?.forEach((c, j) => {
        if (!declared.has(c.argument)) problems.push(`${at}.approval.when[${j}].argument: ${c.argument} is not an argument of the tool`);
      });
    }
    if (!URL.canParse(tool.call.url.replace(/\{[^}]*\}/g, 'x'))) problems.push(`${at}.call.url: not an absolute URL`);
    // An argument may choose a path segment or a query value, never the host it is sent to (SSRF).
    const fixed = tool.call.url.split('{')[0] ?? '';
    if (tool.call.url.includes('{') && !(URL.canParse(fixed) && fixed.startsWith(`${new URL(fixed).origin}/`)))
      problems.push(`${at}.call.url: placeholders may appear only after the origin and its first "/"`);
  });
  if (config.approvals.mode === 'push' && !config.approvals.push_client)
    problems.push('approvals.push_client: push mode needs the push registration');
  return problems;
}

/** Parses and checks a gateway configuration document (already read from YAML). */
export function parseGatewayConfig(document: unknown, source = 'gateway config', env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const problems: string[] = [];
  const interpolated = interpolateEnv(document ?? {}, env, problems);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const result = gatewayConfigSchema.safeParse(interpolated);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  const crossProblems = crossCheck(result.data);
  if (crossProblems.length > 0) throw new ConfigError(source, crossProblems);
  return result.data;
}

/** Reads, interpolates and checks a YAML gateway configuration file. */
export function loadGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(file, [error instanceof Error ? error.message : String(error)]);
  }
  return parseGatewayConfig(document, file, env);
}
