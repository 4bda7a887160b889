#!/usr/bin/env node
// npm run bench: client_credentials token requests per second and latency,
// Palisade next to the floor (a bare node:http server signing the same JWT),
// measured in the same run on loopback, reported as a ratio; and token
// exchanges (RFC 8693, verify + narrow + sign) beside them. Each server runs
// in its own process; the load generator (autocannon) runs in this one.
//
// BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3),
// BENCH_WARMUP (s, default 2), BENCH_RESULTS (directory for the JSON, default bench/results).
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import { figure, freePort, row, summary, writeResult } from './lib.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const TARGET_RATIO = 0.4;

async function start(script) {
  const port = await freePort();
  const child = fork(new URL(script, import.meta.url), [], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${ready.port}/token` };
}

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const clientCredentials = {
  body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
  headers: { ...form, authorization: basic('ops-bot', 'ops-bot-secret') },
};

async function tokenFor(url, id, secret, params) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...form, authorization: basic(id, secret) },
    body: new URLSearchParams(params),
  });
  if (!response.ok) throw new Error(`${id}: ${response.status} ${await response.text()}`);
  return (await response.json()).access_token;
}

/**
 * The gateway exchanging an agent's gateway token for one tool (the per-hop
 * cost of every MCP call): subject = ops-bot's token with a tool_access detail,
 * actor = the gateway's own token, target = the reports tool.
 */
async function exchangeRequest(url) {
  const detail = JSON.stringify([{ type: 'tool_access', locations: ['http://127.0.0.1:9401/mcp'], actions: ['reports.quarterly'] }]);
  const subject = await tokenFor(url, 'ops-bot', 'ops-bot-secret', { grant_type: 'client_credentials', authorization_details: detail });
  const actor = await tokenFor(url, 'mcp-gateway', 'mcp-gateway-secret', { grant_type: 'client_credentials' });
  const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';
  return {
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: subject,
      subject_token_type: accessTokenType,
      actor_token: actor,
      actor_token_type: accessTokenType,
      audience: 'http://127.0.0.1:9411',
    }).toString(),
    headers: { ...form, authorization: basic('mcp-gateway', 'mcp-gateway-secret') },
  };
}

async function measure(url, { body, headers }) {
  const result = await autocannon({ url, method: 'POST', body, headers, connections, duration });
  return figure(url, result);
}

const floor = await start('./servers/floor.mjs');
const idp = await start('./servers/idp.mjs');
const scenarios = {
  floor: { url: floor.url, request: clientCredentials },
  palisade: { url: idp.url, request: clientCredentials },
  exchange: { url: idp.url, request: await exchangeRequest(idp.url) },
};
const runs = { floor: [], palisade: [], exchange: [] };
try {
  for (const { url, request } of Object.values(scenarios)) {
    await autocannon({ url, method: 'POST', ...request, connections, duration: Number(process.env.BENCH_WARMUP ?? 2) }); // warm-up
  }
  for (let round = 0; round < rounds; round++) {
    // Interleave the scenarios so drift in machine load hits all alike.
    for (const [name, { url, request }] of Object.entries(scenarios)) runs[name].push(await measure(url, request));
  }
} finally {
  floor.child.kill();
  idp.child.kill();
}

const result = {
  date: new Date().toISOString(),
  node: process.version,
  settings: { duration, connections, rounds },
  floor: summary(runs.floor),
  palisade: summary(runs.palisade),
  exchange: summary(runs.exchange),
};
result.ratio = result.palisade.rps.median / result.floor.rps.median;
result.target = TARGET_RATIO;
result.meetsTarget = result.ratio >= TARGET_RATIO;

console.log(`\ntoken endpoint, ${connections} connections, ${duration} s × ${rounds} rounds, median (min–max)\n`);
console.log('| server | requests/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|');
console.log(row('floor: bare node:http signing one ES256 JWT', result.floor));
console.log(row('Palisade IdP: client_credentials (client_secret_basic, SQLite)', result.palisade));
console.log(row('Palisade IdP: token exchange (verify subject + actor, narrow, sign)', result.exchange));
const met = result.meetsTarget ? 'met' : 'NOT met';
console.log(`\nPalisade client_credentials / floor = ${(result.ratio * 100).toFixed(1)}% (target ≥ ${TARGET_RATIO * 100}%: ${met})`);
console.log(`Token exchange / client_credentials = ${((result.exchange.rps.median / result.palisade.rps.median) * 100).toFixed(1)}%`);
writeResult('token-endpoint.json', result);
