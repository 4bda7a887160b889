import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { AutonomousAgent } from './autonomous.js';
import { MisuseError } from './errors.js';
import type { AuthorizationDetail } from './issuer.js';
import { UserAgent } from './user-agent.js';

type Agent = AutonomousAgent | UserAgent;

/** The details a 403 insufficient_scope names (Palisade puts them in the body: docs/gateway.md). */
async function requiredDetails(response: Response): Promise<AuthorizationDetail[] | undefined> {
  if (response.status !== 403 || !/error="insufficient_scope"/.test(response.headers.get('www-authenticate') ?? '')) return undefined;
  try {
    const body = (await response.clone().json()) as { authorization_details?: unknown };
    return Array.isArray(body.authorization_details) ? (body.authorization_details as AuthorizationDetail[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Step-up (RFC 9396 §10, MCP authorization): the gateway said which details
 * the call needs; a person's agent asks them to allow those too (a new
 * sign-in with the union of the details), then the request is sent again,
 * once. An autonomous agent cannot ask anybody: its refusal stands.
 */
function steppingUp(agent: Agent): typeof fetch {
  return async (input, init) => {
    // Bearer, or DPoP with a proof for each request (RFC 9449 §7), as the agent's tokens require.
    const send = await agent.presenting();
    const response = await send(input, init);
    const needed = agent instanceof UserAgent ? await requiredDetails(response) : undefined;
    if (!needed || !(agent instanceof UserAgent)) return response;
    const granted = (await agent.store.load())?.authorizationDetails ?? agent.options.authorizationDetails ?? [];
    await agent.login({ authorizationDetails: [...(granted as AuthorizationDetail[]), ...needed] });
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${await agent.accessToken()}`);
    return (await agent.presenting())(input, { ...init, headers });
  };
}

/** Where a gateway's tokens come from (RFC 9728 metadata, found from its 401): must be the agent's issuer. */
async function checkIssuer(gateway: URL, issuer: string): Promise<void> {
  const challenge = (await fetch(gateway, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).headers.get(
    'www-authenticate',
  );
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge ?? '')?.[1];
  if (!metadataUrl) throw new MisuseError('not_a_gateway', 'the URL does not answer as an OAuth-protected MCP server');
  const metadata = (await (await fetch(metadataUrl)).json()) as { resource?: string; authorization_servers?: string[] };
  if (metadata.resource !== gateway.href || !metadata.authorization_servers?.includes(issuer))
    throw new MisuseError('issuer_mismatch', 'the gateway does not trust this agent’s identity provider');
}

/**
 * The official MCP client (SDK 2.x), connected to a Palisade gateway with
 * the agent's tokens: bearer on every request, renewed once on a 401, and
 * step-up on a 403 naming the authorization details a call needs.
 *
 * @example
 * const client = await connectToGateway('http://127.0.0.1:9401/mcp', agent);
 * const result = await client.callTool({ name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
 */
export async function connectToGateway(
  url: string,
  agent: Agent,
  options: { name?: string; version?: string; protocol?: 'legacy' | '2026-07-28'; headers?: Record<string, string> } = {},
): Promise<Client> {
  const gateway = new URL(url);
  await checkIssuer(gateway, agent.options.issuer);
  const client = new Client(
    { name: options.name ?? 'palisade-agent', version: options.version ?? '0.1.0' },
    options.protocol === '2026-07-28' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  const transport = new StreamableHTTPClientTransport(gateway, {
    authProvider: {
      token: () => agent.accessToken(),
      onUnauthorized: async () => {
        await agent.accessToken({ renew: true });
      },
    },
    fetch: steppingUp(agent),
    // Extra headers on every request, e.g. a W3C `traceparent` so the whole call is one trace.
    ...(options.headers ? { requestInit: { headers: options.headers } } : {}),
  });
  await client.connect(transport);
  return client;
}
