import { ExchangeError, type TokenExchanger, traceHeaders, type VerifiedToken } from '@palisade/resource-server';
import type { Arguments } from './template.js';
import type { GatewayTool } from './tools.js';

const SAML2 = 'urn:ietf:params:oauth:token-type:saml2';
/** A downstream answer larger than this is cut, never buffered whole into the agent's context. */
const MAX_RESPONSE = 1024 * 1024;

/** MCP `CallToolResult` content, as the gateway produces it (text, embedded resources, structured JSON). */
export type Content =
  | { type: 'text'; text: string }
  | { type: 'resource'; resource: { uri: string; mimeType: string; text: string } | { uri: string; mimeType: string; blob: string } };

export interface ToolResult {
  [key: string]: unknown;
  content: Content[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export const toolError = (text: string): ToolResult => ({ content: [{ type: 'text', text }], isError: true });

/** The outcome of one downstream call, for the result and the audit trail. */
export interface Downstream {
  readonly result: ToolResult;
  readonly status: number | undefined;
  readonly error: string | undefined;
}

/** The tool's answer, read up to 1 MiB and no further (a chunked answer has no length to check first). */
async function limitedBody(response: Response): Promise<Buffer | undefined> {
  if (Number(response.headers.get('content-length') ?? 0) > MAX_RESPONSE) {
    await response.body?.cancel();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    size += next.value.byteLength;
    if (size > MAX_RESPONSE) {
      await reader?.cancel();
      return undefined;
    }
    chunks.push(Buffer.from(next.value));
  }
  return Buffer.concat(chunks);
}

/** A refusal by the tool, as the agent should read it: status, OAuth error code and description, nothing else. */
function refusal(tool: GatewayTool, status: number, body: Buffer, type: string): Downstream {
  let code = `http_${status}`;
  let description = '';
  if (type.includes('json')) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown; error_description?: unknown };
      if (typeof parsed.error === 'string') code = parsed.error;
      if (typeof parsed.error_description === 'string') description = `: ${parsed.error_description}`;
    } catch {
      // Not JSON after all: the status says enough.
    }
  }
  return { result: toolError(`${tool.name} was refused by the tool (${status} ${code})${description}`), status, error: code };
}

/** The tool's answer as MCP content: JSON as structured content (and its text), a document as an embedded resource. */
function success(url: string, status: number, body: Buffer, type: string): Downstream {
  const mimeType = type.split(';')[0]?.trim() || 'application/octet-stream';
  if (status === 204 || body.length === 0)
    return { result: { content: [{ type: 'text', text: `done (${status})` }] }, status, error: undefined };
  if (mimeType === 'application/json' || mimeType.endsWith('+json')) {
    const text = body.toString('utf8');
    const parsed = JSON.parse(text) as unknown;
    const structured =
      parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
        ? { structuredContent: parsed as Record<string, unknown> }
        : {};
    return { result: { content: [{ type: 'text', text }], ...structured }, status, error: undefined };
  }
  const resource = mimeType.startsWith('text/')
    ? { uri: url, mimeType, text: body.toString('utf8') }
    : { uri: url, mimeType, blob: body.toString('base64') };
  return { result: { content: [{ type: 'resource', resource }] }, status, error: undefined };
}

/**
 * One downstream call: the caller's (or the approval's) token exchanged for
 * a token of the tool's audience, narrowed to the call's details, with the
 * gateway as actor (RFC 8693); the caller's token never leaves the gateway
 * (SECURITY M9). The answer becomes MCP content.
 */
export async function callDownstream(
  tool: GatewayTool,
  args: Arguments,
  subject: VerifiedToken,
  exchanger: TokenExchanger,
): Promise<Downstream> {
  const { call } = tool.config;
  const saml = call.token_type === 'saml2';
  let issued: { readonly token: string; readonly type: string };
  try {
    issued = await exchanger.issue(
      subject,
      call.audience,
      saml ? { requestedTokenType: SAML2 } : { authorizationDetails: tool.required(args) },
    );
  } catch (error) {
    if (!(error instanceof ExchangeError)) throw error;
    return {
      result: toolError(`the identity provider would not issue a token for this call (${error.error})`),
      status: undefined,
      error: error.error,
    };
  }
  const url = tool.url(args);
  const body = tool.body(args);
  // A DPoP-bound token goes with a proof for exactly this method and URL (RFC 9449 §7).
  const presentation = saml ? { authorization: `SAML ${issued.token}` } : await exchanger.presentation(issued, call.method, url);
  const response = await fetch(url, {
    method: call.method,
    headers: {
      ...presentation,
      accept: 'application/json, text/*;q=0.9, */*;q=0.5',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...traceHeaders(subject.traceId),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    redirect: 'error',
    signal: AbortSignal.timeout(30_000),
  });
  const type = response.headers.get('content-type') ?? '';
  const received = await limitedBody(response);
  if (!received)
    return { result: toolError(`${tool.name}: the tool's answer is larger than 1 MiB`), status: response.status, error: 'too_large' };
  if (!response.ok) return refusal(tool, response.status, received, type);
  try {
    return success(url, response.status, received, type);
  } catch {
    return {
      result: toolError(`${tool.name}: the tool's answer is not what it says it is`),
      status: response.status,
      error: 'bad_response',
    };
  }
}
