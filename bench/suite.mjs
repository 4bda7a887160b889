#!/usr/bin/env node
// npm run bench: every Palisade figure beside its floor (a bare node:http server doing only the
// unavoidable crypto) and the peers a user would pick instead, measured in the same run on loopback.
// Each server runs in its own process; the load generator (autocannon) runs in this one. Scenarios are
// interleaved round by round so drift in machine load hits all alike. One markdown table, and
// bench/results/suite.json. Then a memory soak of the all-in-one demo process (`npm start`).
//
// BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3),
// BENCH_WARMUP (s, default 2), BENCH_SOAK (s, default 60; 0 skips it), BENCH_RESULTS (directory).
import autocannon from 'autocannon';
import { figure, range, ratio, send, startServer, stopServers, summary, table, writeResult } from './lib.mjs';
import { soak } from './soak.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
const soakSeconds = Number(process.env.BENCH_SOAK ?? 60);

const GATEWAY = 'http://127.0.0.1:9401/mcp';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const post = (params, id, secret) => ({
  method: 'POST',
  body: new URLSearchParams(params).toString(),
  headers: { ...form, authorization: basic(id, secret) },
});
const SCHEDULES = [{ type: 'tool_access', locations: ['http://127.0.0.1:9411'], actions: ['reports.schedules'] }];
/** The same trivial tools/call to an MCP server's /mcp, with a Bearer token or without one. */
const mcpCall = (server, bearer) => ({
  url: `${server.url}/mcp`,
  method: 'POST',
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'reports.schedules', arguments: {} } }),
  headers: {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
    ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
  },
});

async function token(url, request) {
  const { status, text } = await send(url, request);
  const body = JSON.parse(text);
  if (!body.access_token) throw new Error(`${url}: ${status} ${text}`);
  return body;
}

// ---- servers ----
const floors = {};
for (const mode of ['json', 'sign', 'exchange', 'verify']) floors[mode] = await startServer('./servers/floor.mjs', { FLOOR: mode });
const oidcProvider = await startServer('./servers/peer-oidc-provider.mjs', {}, { quiet: true });
const jmondi = await startServer('./servers/peer-jmondi.mjs');
const idp = await startServer('./servers/idp.mjs');
const issuer = idp.url;
const people = await startServer('./sign-ins.mjs', { ISSUER: issuer });
const rsVerify = await startServer('./servers/rs-verify.mjs', { ISSUER: issuer, CACHE: 'off' });
const rsVerifyCached = await startServer('./servers/rs-verify.mjs', { ISSUER: issuer });
const downstream = await startServer('./servers/downstream.mjs');
const gatewayWarm = await startServer('./servers/gateway.mjs', { ISSUER: issuer, REPORTS_URL: downstream.url });
const gatewayCold = await startServer('./servers/gateway.mjs', { ISSUER: issuer, REPORTS_URL: downstream.url, EXCHANGE_CACHE: 'off' });
const mcpBare = await startServer('./servers/mcp-bare.mjs', { DOWNSTREAM_URL: downstream.url });
const mcpBearer = await startServer('./servers/mcp-bare.mjs', { DOWNSTREAM_URL: downstream.url, AUTH: 'bearer', ISSUER: issuer });

// ---- what each scenario sends ----
const opsBot = ['ops-bot', 'ops-bot-secret'];
const gatewayClient = ['mcp-gateway', 'mcp-gateway-secret'];
const exchangeParams = (subject, extra = {}) => ({
  grant_type: EXCHANGE,
  subject_token: subject,
  subject_token_type: ACCESS_TOKEN,
  ...extra,
});
const refresh = refreshRequest((await people.ask({ op: 'signIns', count: connections })).tokens);

/**
 * Every scenario, with tokens fresh from their issuers: access tokens live 5 minutes and a run is
 * longer, so the scenarios are built again before each measurement.
 */
async function currentScenarios() {
  const agentToken = (
    await token(`${issuer}/token`, post({ grant_type: 'client_credentials', authorization_details: JSON.stringify(SCHEDULES) }, ...opsBot))
  ).access_token;
  const gatewayOwn = (await token(`${issuer}/token`, post({ grant_type: 'client_credentials' }, ...gatewayClient))).access_token;
  const floorSubject = (await floors.exchange.ask('token')).token;
  const jmondiSubject = (await jmondi.ask('token')).token;
  const floorToken = (await floors.verify.ask('token')).token;
  return [
    // name, group (the figure it is compared in), role (floor | peer | palisade), the request
    { name: 'bare node:http answering fixed JSON', group: 'http', role: 'floor', url: floors.json.url, method: 'GET' },
    {
      name: 'floor: sign one ES256 JWT',
      group: 'issue',
      role: 'floor',
      url: `${floors.sign.url}/token`,
      ...post({ grant_type: 'client_credentials' }, ...opsBot),
    },
    {
      name: 'oidc-provider 9.13: client_credentials, JWT',
      group: 'issue',
      role: 'peer',
      url: `${oidcProvider.url}/token`,
      ...post({ grant_type: 'client_credentials', scope: 'tools.access' }, ...opsBot),
    },
    {
      name: '@jmondi/oauth2-server 4: client_credentials, ES256',
      group: 'issue',
      role: 'peer',
      url: `${jmondi.url}/token`,
      ...post({ grant_type: 'client_credentials', scope: 'tools.access' }, ...opsBot),
    },
    {
      name: 'Palisade: client_credentials',
      group: 'issue',
      role: 'palisade',
      target: 0.9,
      url: `${issuer}/token`,
      ...post({ grant_type: 'client_credentials' }, ...opsBot),
    },
    {
      name: 'Palisade: client_credentials + authorization_details',
      group: 'issue',
      role: 'palisade',
      url: `${issuer}/token`,
      ...post({ grant_type: 'client_credentials', authorization_details: JSON.stringify(SCHEDULES) }, ...opsBot),
    },
    { name: 'Palisade: refresh (rotating)', group: 'issue', role: 'palisade', url: `${issuer}/token`, ...refresh },
    {
      name: 'floor: verify one JWT, sign one',
      group: 'exchange',
      role: 'floor',
      url: `${floors.exchange.url}/token`,
      ...post(exchangeParams(floorSubject), ...gatewayClient),
    },
    {
      name: '@jmondi/oauth2-server 4: token exchange',
      group: 'exchange',
      role: 'peer',
      url: `${jmondi.url}/token`,
      ...post(exchangeParams(jmondiSubject, { scope: 'tools.access' }), ...gatewayClient),
    },
    {
      name: 'Palisade: token exchange (delegation, one hop)',
      group: 'exchange',
      role: 'palisade',
      target: 0.9,
      url: `${issuer}/token`,
      ...post(
        exchangeParams(agentToken, { actor_token: gatewayOwn, actor_token_type: ACCESS_TOKEN, audience: 'http://127.0.0.1:9411' }),
        ...gatewayClient,
      ),
    },
    {
      name: 'floor: verify one JWT',
      group: 'verify',
      role: 'floor',
      url: floors.verify.url,
      method: 'GET',
      headers: { authorization: `Bearer ${floorToken}` },
    },
    {
      name: 'Palisade resource-server SDK: verify (every request)',
      group: 'verify',
      role: 'palisade',
      target: 0.9,
      url: rsVerify.url,
      method: 'GET',
      headers: { authorization: `Bearer ${agentToken}` },
    },
    {
      name: 'Palisade resource-server SDK: verify (verified-token cache, the default)',
      group: 'verify',
      role: 'palisade',
      url: rsVerifyCached.url,
      method: 'GET',
      headers: { authorization: `Bearer ${agentToken}` },
    },
    {
      name: 'Palisade: introspection',
      group: 'verify',
      role: 'palisade',
      url: `${issuer}/introspect`,
      ...post({ token: agentToken }, ...gatewayClient),
    },
    { name: 'Palisade: PAR push', group: 'http', role: 'palisade', url: `${issuer}/par`, ...parRequest() },
    { name: 'bare MCP SDK server, no auth', group: 'mcp', role: 'floor', ...mcpCall(mcpBare) },
    { name: 'bare MCP SDK server + its bearer check (JWT)', group: 'mcp', role: 'peer', ...mcpCall(mcpBearer, agentToken) },
    {
      name: 'Palisade gateway: tools/call, warm (cached exchange)',
      group: 'mcp',
      role: 'palisade',
      target: 0.7,
      ...mcpCall(gatewayWarm, agentToken),
    },
    {
      name: 'Palisade gateway: tools/call, cold (exchange on every call)',
      group: 'mcp',
      role: 'palisade',
      ...mcpCall(gatewayCold, agentToken),
    },
  ];
}

/** PAR as the assistant: a fresh request_uri for every push. */
function parRequest() {
  return post(
    {
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:8765/callback',
      scope: 'openid tools.access',
      resource: GATEWAY,
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      authorization_details: JSON.stringify([{ type: 'tool_access', locations: [GATEWAY], actions: ['reports.quarterly'] }]),
    },
    'assistant',
    'assistant-secret',
  );
}

/**
 * Refresh tokens rotate: a request takes a chain of the pool that no other request holds, sends its
 * newest token, and gives the chain back with the token the answer returns. (autocannon resets a
 * connection's context before each request, so chains are lent, not tied to connections.)
 */
function refreshRequest(pool) {
  let free = pool.map((_, slot) => slot);
  const body = (refreshToken) =>
    new URLSearchParams({ grant_type: 'refresh_token', client_id: 'palisade-cli', refresh_token: refreshToken }).toString();
  return {
    method: 'POST',
    headers: form,
    requests: [
      {
        method: 'POST',
        setupRequest(request, context) {
          context.slot = free.pop();
          if (context.slot === undefined) throw new Error('more requests in flight than refresh chains');
          return { ...request, headers: form, body: body(pool[context.slot]) };
        },
        onResponse(status, responseBody, context) {
          if (status === 200) pool[context.slot] = JSON.parse(responseBody).refresh_token;
          free.push(context.slot);
        },
      },
    ],
    /** A run's end cuts requests short, so a chain may have rotated unseen: each is tried once, and a broken one replaced. */
    async repair() {
      const { tokens } = await people.ask({ op: 'repair', tokens: pool });
      pool.splice(0, pool.length, ...tokens);
      free = pool.map((_, slot) => slot);
    },
  };
}

async function measure(scenario, seconds) {
  const { name: _n, group: _g, role: _r, target: _t, repair, url, ...request } = scenario;
  await repair?.().catch((error) => {
    throw new Error(`${scenario.name}: preparing the run failed`, { cause: error });
  });
  return figure(scenario.name, await autocannon({ url, connections, duration: seconds, ...request }));
}

const scenarios = await currentScenarios();
const runs = new Map(scenarios.map((s) => [s.name, []]));
/** The scenario at `index`, with fresh tokens. */
const fresh = async (index) => (await currentScenarios())[index];
const flows = [];
try {
  for (const scenario of scenarios) {
    // One request first: it must succeed (and warms JWKS and caches).
    const { url, method = 'GET', body, headers, requests } = scenario;
    if (!requests) {
      const first = await send(url, { method, body, headers });
      if (first.status < 200 || first.status > 299) throw new Error(`${scenario.name}: ${first.status} ${first.text}`);
    }
    if (warmup > 0) await measure(scenario, warmup);
  }
  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`round ${round + 1} of ${rounds}\n`);
    for (const [index, { name }] of scenarios.entries()) runs.get(name).push(await measure(await fresh(index), duration));
    flows.push((await people.ask({ op: 'flows', seconds: duration, parallel: 4 })).perSecond);
  }
} finally {
  await stopServers();
}

const figures = scenarios.map((s) => ({ name: s.name, group: s.group, role: s.role, target: s.target, ...summary(runs.get(s.name)) }));
const rows = figures.map((f) => ({ ...f, ...ratio(f, figures) }));
const flowSummary = range(flows);

console.log(`\n${connections} connections, ${duration} s × ${rounds} rounds, median (min–max); ratios of medians from this run\n`);
console.log(table(rows));
console.log(
  `\nPalisade: complete authorization-code flows with PKCE (scripted sign-in: authorize, password (argon2id), consent, code, token), 4 at a time: ${flowSummary.median.toFixed(1)} per second (${flowSummary.min.toFixed(1)}–${flowSummary.max.toFixed(1)})`,
);
const memory = soakSeconds > 0 ? await soak(soakSeconds) : undefined;
if (memory) {
  console.log(
    `\nMemory, all-in-one demo process (npm start) under client_credentials + gateway load for ${soakSeconds} s: peak RSS ${memory.peakMb} MB (target < 300), first quarter ${memory.firstMb} MB → last quarter ${memory.lastMb} MB`,
  );
}
writeResult('suite.json', {
  date: new Date().toISOString(),
  node: process.version,
  settings: { duration, connections, rounds, warmup, soakSeconds },
  figures: rows,
  authorizationCodeFlowsPerSecond: flowSummary,
  memory,
});
