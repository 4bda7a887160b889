#!/usr/bin/env node
// npm run bench (second part): client_credentials throughput of one IdP node
// and of two nodes on the same PostgreSQL database, in the same run, as a
// ratio (issue 10). Each node is its own process; the load generator
// (autocannon) runs here, splitting its connections across the nodes.
// Bounded: BENCH_DURATION (s, default 10) × BENCH_ROUNDS (default 3), loopback only.
import { testDatabase } from '@palisade/store/testing/postgres';
import autocannon from 'autocannon';
import { median, startServer, stopServers, writeResult } from './lib.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

const db = await testDatabase('palisade_bench');
if (db.unavailable) process.exit(0);

/** One IdP node on the shared schema; the first names the issuer, the second takes the first's port as its issuer's. */
async function node(issuer) {
  const env = { DATABASE_URL: db.url, SCHEMA: db.schema, ...(issuer ? { ISSUER_PORT: new URL(issuer.url).port } : {}) };
  const server = await startServer('./servers/idp-postgres.mjs', env);
  return { ...server, url: `${server.url}/token` };
}

const request = {
  method: 'POST',
  body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Basic ${Buffer.from('ops-bot:ops-bot-secret').toString('base64')}`,
  },
};

/** Requests per second over `urls`, the connections split evenly, all measured at once. */
async function measure(urls, seconds = duration) {
  const results = await Promise.all(
    urls.map((url) => autocannon({ url, ...request, connections: Math.max(1, Math.floor(connections / urls.length)), duration: seconds })),
  );
  for (const r of results) if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx, ${r.errors} errors`);
  return results.reduce((sum, r) => sum + r.requests.average, 0);
}

const a = await node();
const b = await node(a);
const one = [];
const two = [];
try {
  await measure([a.url, b.url], 2); // warm-up
  for (let round = 0; round < rounds; round++) {
    one.push(await measure([a.url]));
    two.push(await measure([a.url, b.url]));
  }
} finally {
  await stopServers();
  await new Promise((resolve) => setTimeout(resolve, 300));
  await db.drop();
}

const result = {
  date: new Date().toISOString(),
  node: process.version,
  settings: { duration, connections, rounds },
  oneNode: { rps: median(one), runs: one },
  twoNodes: { rps: median(two), runs: two },
};
result.ratio = result.twoNodes.rps / result.oneNode.rps;
console.log(`\nclient_credentials on PostgreSQL, ${connections} connections, ${duration} s × ${rounds} rounds, median\n`);
console.log('| nodes | requests/s |');
console.log('|---|---|');
console.log(`| one IdP node | ${result.oneNode.rps.toFixed(0)} |`);
console.log(`| two IdP nodes, one database | ${result.twoNodes.rps.toFixed(0)} |`);
console.log(`\ntwo nodes / one node = ${result.ratio.toFixed(2)}×`);
writeResult('cluster.json', result);
