import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AgentError,
  type AuthorizationDetail,
  AutonomousAgent,
  connectToGateway,
  FileTokenStore,
  MisuseError,
  openSystemBrowser,
  requestApproval,
  UserAgent,
} from '@palisade/agent';

const USAGE = `usage: palisade agent <command> [options]

  login    [--details JSON] [--scope S] [--open] [--dpop]
                                           sign in as a person (PAR + PKCE; --open starts the system browser), tokens in ~/.palisade (0600);
                                           --dpop binds them to a key kept beside them (RFC 9449): tools and call then send proofs
  token    --client ID [--details JSON]    a client-credentials token (secret from PALISADE_CLIENT_SECRET)
  tools                                    the gateway's tools this agent may use
  call TOOL [--arg name=value ...]         call a tool through the gateway
  approve-request --user NAME --message TEXT [--details JSON]
                                           ask a person to approve on their device (CIBA poll; --client with its secret)

  --issuer URL    the IdP (PALISADE_ISSUER, default http://127.0.0.1:9400)
  --gateway URL   the MCP gateway (PALISADE_GATEWAY, default http://127.0.0.1:9401/mcp)
  --client ID     act as this client with client credentials (secret from PALISADE_CLIENT_SECRET);
                  without it, tools and call use the person signed in with login (client palisade-cli)
  --dpop          sender-constrained tokens (RFC 9449) for login, and for --client agents
  --json          machine-readable output

Exit codes: 0 done; 1 the tool or the person said no; 2 usage; 3 the server refused (OAuth error); 4 protocol error.
`;

interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) };

function details(json: string | undefined): AuthorizationDetail[] | undefined {
  if (json === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new MisuseError('details', '--details must be a JSON array of authorization details');
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((d) => d !== null && typeof d === 'object' && typeof (d as { type?: unknown }).type === 'string')
  )
    throw new MisuseError('details', '--details must be a JSON array of objects with a type');
  return parsed as AuthorizationDetail[];
}

/** `--arg name=value`: a value that parses as JSON (a number, an object) is taken as JSON, else as text. */
function toolArguments(pairs: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new MisuseError('arg', `--arg ${pair}: expected name=value`);
    const value = pair.slice(at + 1);
    let parsed: unknown = value;
    if (/^[[{"]/.test(value)) {
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = value;
      }
    }
    args[pair.slice(0, at)] = parsed;
  }
  return args;
}

function secret(): string {
  const value = process.env.PALISADE_CLIENT_SECRET;
  // Never on the command line: it would show in `ps` and shell history.
  if (!value) throw new MisuseError('no_secret', 'set PALISADE_CLIENT_SECRET to the client secret');
  return value;
}

/** A spinner on stderr while a person decides (only on a terminal). */
function spinner(io: Io): { update(message: string): void; stop(): void } {
  if (!process.stderr.isTTY) return { update: (message) => io.err(`${message}\n`), stop: () => {} };
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let message = '';
  let i = 0;
  const timer = setInterval(() => io.err(`\r${frames[i++ % frames.length]} ${message}`), 120);
  return {
    update: (next) => {
      message = next;
    },
    stop: () => {
      clearInterval(timer);
      io.err('\r\x1b[K');
    },
  };
}

/** Exit code for an error (USAGE above). */
function exitCode(error: AgentError): number {
  if (error.family === 'misuse') return 2;
  if (error.family === 'protocol') return 4;
  return error.code === 'oauth.access_denied' || error.code === 'oauth.expired_token' ? 1 : 3;
}

/** `palisade agent …`: the agent SDK from the command line. */
export async function agent(argv: readonly string[], io: Io = stdio): Promise<number> {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      issuer: { type: 'string' },
      gateway: { type: 'string' },
      client: { type: 'string' },
      details: { type: 'string' },
      scope: { type: 'string' },
      resource: { type: 'string' },
      arg: { type: 'string', multiple: true },
      user: { type: 'string' },
      message: { type: 'string' },
      json: { type: 'boolean' },
      open: { type: 'boolean' },
      dpop: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, tool] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const issuer = values.issuer ?? process.env.PALISADE_ISSUER ?? 'http://127.0.0.1:9400';
  const gateway = values.gateway ?? process.env.PALISADE_GATEWAY ?? 'http://127.0.0.1:9401/mcp';
  const home = process.env.PALISADE_AGENT_HOME ?? join(homedir(), '.palisade');
  const json = values.json === true;
  const person = () =>
    new UserAgent({
      issuer,
      clientId: 'palisade-cli',
      scope: values.scope ?? 'tools.access offline_access',
      resource: values.resource ?? gateway,
      store: new FileTokenStore(join(home, 'agent-tokens.json')),
      dpop: values.dpop === true,
      ...(values.details ? { authorizationDetails: details(values.details) ?? [] } : {}),
      openBrowser: (url) =>
        values.open
          ? openSystemBrowser(url, io.err)
          : io.err(`Open this page to sign in (waiting for the browser to come back):\n  ${url.href}\n`),
    });
  const autonomous = (clientId: string) =>
    new AutonomousAgent({
      issuer,
      clientId,
      credentials: { clientSecret: secret() },
      resource: values.resource ?? gateway,
      dpop: values.dpop === true,
      ...(values.scope ? { scope: values.scope } : {}),
      ...(values.details ? { authorizationDetails: details(values.details) ?? [] } : {}),
    });
  const actor = () => (values.client ? autonomous(values.client) : person());

  try {
    switch (command) {
      case 'login': {
        const stored = await person().login();
        io.out(
          json
            ? `${JSON.stringify({ expires_at: stored.expiresAt, scope: stored.scope, authorization_details: stored.authorizationDetails ?? [] })}\n`
            : `Signed in. Allowed: ${stored.scope ?? ''}; ${(stored.authorizationDetails ?? []).length} authorization detail(s).\n`,
        );
        return 0;
      }
      case 'token': {
        if (!values.client) throw new MisuseError('no_client', 'palisade agent token --client ID');
        const token = await autonomous(values.client).accessToken();
        io.out(json ? `${JSON.stringify({ access_token: token })}\n` : `${token}\n`);
        return 0;
      }
      case 'tools': {
        const client = await connectToGateway(gateway, actor());
        try {
          const { tools } = await client.listTools();
          if (json) io.out(`${JSON.stringify(tools)}\n`);
          else for (const t of tools) io.out(`${t.name.padEnd(22)} ${t.description ?? ''}\n`);
        } finally {
          await client.close();
        }
        return 0;
      }
      case 'call': {
        if (!tool) throw new MisuseError('no_tool', 'palisade agent call TOOL [--arg name=value ...]');
        const client = await connectToGateway(gateway, actor());
        try {
          const waiting = spinner(io);
          const result = await client
            .callTool(
              { name: tool, arguments: toolArguments(values.arg ?? []) },
              {
                onprogress: (progress) => waiting.update(progress.message ?? 'waiting…'),
                timeout: 15 * 60_000,
              },
            )
            .finally(() => waiting.stop());
          const content = result.content as { type: string; text?: string; resource?: { uri: string; text?: string } }[];
          if (json) io.out(`${JSON.stringify(result)}\n`);
          else for (const c of content) io.out(`${c.text ?? c.resource?.text ?? `[${c.type}] ${c.resource?.uri ?? ''}`}\n`);
          if (result.isError) {
            if (!json) io.err(`palisade: ${tool} failed\n`);
            return 1;
          }
          return 0;
        } finally {
          await client.close();
        }
      }
      case 'approve-request': {
        if (!values.client || !values.user || !values.message)
          throw new MisuseError('usage', 'palisade agent approve-request --client ID --user NAME --message TEXT [--details JSON]');
        const waiting = spinner(io);
        const requestDetails = details(values.details);
        const tokens = await requestApproval({
          issuer,
          clientId: values.client,
          credentials: { clientSecret: secret() },
          user: values.user,
          bindingMessage: values.message,
          ...(requestDetails ? { authorizationDetails: requestDetails } : {}),
          onProgress: (message) => waiting.update(message),
        }).finally(() => waiting.stop());
        io.out(json ? `${JSON.stringify({ approved: true, expires_in: tokens.expires_in })}\n` : `Approved by ${values.user}.\n`);
        return 0;
      }
      default:
        io.err(USAGE);
        return 2;
    }
  } catch (error) {
    if (!(error instanceof AgentError)) throw error;
    // One clear line, never a token or secret (errors carry codes and the server's description only).
    io.err(json ? `${JSON.stringify({ error: error.code, message: error.message })}\n` : `palisade: ${error.message} [${error.code}]\n`);
    return exitCode(error);
  }
}
