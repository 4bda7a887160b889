#!/usr/bin/env node
// npm run bench: MCP tools/call requests per second and latency through the
// Palisade gateway (token verified, coverage checked, the exchanged token
// served from the cache) beside a bare official-SDK MCP server making the same
// downstream HTTP call without any authorization — the ratio issue 12 targets
// (≥ 0.7). Also, for context: the bare server answering in-process, and the
// gateway calling the real reports tool (which verifies its own token). Each
// server runs in its own process, measured in the same run.
//
// BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 20), BENCH_ROUNDS (default 3),
// BENCH_WARMUP (s, default 2), BENCH_RESULTS (directory for the JSON, default bench/results).
import { fork } from 'node:child_process';
import autocannon from 'autocannon';
import { figure, freePort, row, summary, writeResult } from './lib.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 20);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const children = [];
async function start(script, env = {}) {
  const port = await freePort();
  const child = fork(new URL(script, import.meta.url), [], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return `http://127.0.0.1:${port}`;
}

const issuer = await start('./servers/idp.mjs');
const reports = await start('./servers/reports.mjs', { ISSUER: issuer });
const downstream = await start('./servers/downstream.mjs');
const gateway = `${await start('./servers/gateway.mjs', { ISSUER: issuer, REPORTS_URL: downstream })}/mcp`;
const gatewayToReports = `${await start('./servers/gateway.mjs', { ISSUER: issuer, REPORTS_URL: reports })}/mcp`;
const bare = `${await start('./servers/mcp-bare.mjs', { DOWNSTREAM_URL: downstream })}/mcp`;
const bareInProcess = `${await start('./servers/mcp-bare.mjs')}/mcp`;

// ops-bot's gateway token, allowed exactly the one tool action (ARCHITECTURE flow 1).
const tokenResponse = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from('ops-bot:ops-bot-secret').toString('base64')}`,
  },
  body: new URLSearchParams({
    grant_type: 'client_credentials',
    authorization_details: JSON.stringify([{ type: 'tool_access', locations: ['http://127.0.0.1:9411'], actions: ['reports.schedules'] }]),
  }),
});
const { access_token: token } = await tokenResponse.json();
if (!token) throw new Error(`no token: ${tokenResponse.status}`);

const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'reports.schedules', arguments: {} } });
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const authorized = { ...headers, authorization: `Bearer ${token}` };
const scenarios = {
  bare: { url: bare, headers },
  gateway: { url: gateway, headers: authorized },
  bareInProcess: { url: bareInProcess, headers },
  gatewayToReports: { url: gatewayToReports, headers: authorized },
};
/** Issue 12: the gateway's warm tools/call against the bare SDK server making the same downstream call. */
const TARGET_RATIO = 0.7;

async function measure({ url, headers }, seconds = duration) {
  const result = await autocannon({ url, method: 'POST', body, headers, connections, duration: seconds });
  return figure(url, result);
}

const runs = Object.fromEntries(Object.keys(scenarios).map((name) => [name, []]));
const warmup = Number(process.env.BENCH_WARMUP ?? 2);
try {
  // One real call through each server first: it must succeed (and it warms the exchanged-token caches).
  for (const { url, headers: h } of Object.values(scenarios)) {
    const first = await (await fetch(url, { method: 'POST', body, headers: h })).text();
    if (!first.includes('Q4-report.pdf') || first.includes('"isError":true')) throw new Error(`the call through ${url} failed: ${first}`);
  }
  for (const scenario of Object.values(scenarios)) await measure(scenario, warmup);
  for (let round = 0; round < rounds; round++) {
    for (const [name, scenario] of Object.entries(scenarios)) runs[name].push(await measure(scenario));
  }
} finally {
  for (const child of children) child.kill();
}

const result = { date: new Date().toISOString(), node: process.version, settings: { duration, connections, rounds } };
for (const name of Object.keys(scenarios)) {
  result[name] = summary(runs[name]);
}
result.ratio = result.gateway.rps.median / result.bare.rps.median;
result.target = TARGET_RATIO;
result.meetsTarget = result.ratio >= TARGET_RATIO;
console.log(`\nMCP tools/call, ${connections} connections, ${duration} s × ${rounds} rounds, median (min–max)\n`);
console.log('| server | requests/s | p50 ms | p99 ms |');
console.log('|---|---|---|---|');
console.log(row('bare SDK MCP server, no auth, the same downstream HTTP call', result.bare));
console.log(row('Palisade gateway: verify, cover check, cached exchange, the same downstream call', result.gateway));
console.log(row('bare SDK MCP server, tool answered in-process', result.bareInProcess));
console.log(row('Palisade gateway to the real reports tool (which verifies its own token)', result.gatewayToReports));
const met = result.meetsTarget ? 'met' : 'NOT met';
console.log(
  `\nGateway / bare SDK server, same downstream call = ${(result.ratio * 100).toFixed(1)}% (target ≥ ${TARGET_RATIO * 100}%: ${met})`,
);
writeResult('gateway.json', result);
