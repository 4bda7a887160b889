// What every benchmark script shares: servers in their own processes, the figure of one autocannon
// run, summaries, ratios and the markdown table.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = [];

/**
 * Starts `script` (relative to bench/) in its own process on a free port; resolves when it says it
 * listens. `ask(message)` sends a message and resolves with its answer (a subject token, sign-ins).
 */
export async function startServer(script, env = {}, { quiet = false } = {}) {
  const port = await freePort();
  const child = fork(new URL(script, import.meta.url), [], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', quiet ? 'ignore' : 'inherit', 'ipc'],
  });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  const ask = (message) =>
    new Promise((resolve, reject) => {
      child.once('message', (answer) => (answer.error ? reject(new Error(`${script}: ${answer.error}`)) : resolve(answer)));
      child.send(message);
    });
  return { child, url: `http://127.0.0.1:${port}`, ask };
}

/**
 * The harness's own requests in the load generator's process, each on a new connection (no agent):
 * fetch's idle keep-alive connections, with autocannon keeping this event loop busy, get reused just
 * as servers close them ("other side closed"). Resolves with the status and the body text.
 */
export function send(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': Buffer.byteLength(body) };
    const request = httpRequest(url, { method, headers: { ...headers, ...length }, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode, text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

export async function stopServers() {
  for (const child of children.splice(0)) child.kill();
}

/** One autocannon run as a figure; any non-2xx or error fails the whole benchmark (a fast error is no result). */
export function figure(name, result) {
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Median, min and max of some numbers. */
export const range = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

const spread = (runs, key) => range(runs.map((r) => r[key]));

/** Median, min and max of each of rps, p50 and p99 over the rounds. */
export const summary = (runs) => ({ rps: spread(runs, 'rps'), p50: spread(runs, 'p50'), p99: spread(runs, 'p99') });

/** One row of a markdown table of figures (requests/s, p50, p99). */
export const row = (name, r) =>
  `| ${name} | ${r.rps.median.toFixed(0)} (${r.rps.min.toFixed(0)}–${r.rps.max.toFixed(0)}) | ${r.p50.median} | ${r.p99.median} |`;

/** A figure's ratios to the floor of its group and to the best peer of its group (medians). */
export function ratio(figure, figures) {
  const group = figures.filter((f) => f.group === figure.group);
  const floor = group.find((f) => f.role === 'floor');
  const peers = group.filter((f) => f.role === 'peer');
  const best = peers.length > 0 ? Math.max(...peers.map((p) => p.rps.median)) : undefined;
  return {
    toFloor: floor && figure.role !== 'floor' ? figure.rps.median / floor.rps.median : undefined,
    toBestPeer: best && figure.role === 'palisade' ? figure.rps.median / best : undefined,
  };
}

const percent = (value) => (value === undefined ? '' : `${(value * 100).toFixed(0)}%`);

/** The whole table: every figure with its ratios, and its target where it has one. */
export function table(rows) {
  const lines = [
    '| figure | requests/s median (min–max) | p50 ms | p99 ms | ÷ floor | ÷ best peer | target (÷ floor) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const target = r.target === undefined ? '' : `≥ ${percent(r.target)}: ${r.toFloor >= r.target ? 'met' : 'NOT met'}`;
    lines.push(`${row(r.name, r)} ${percent(r.toFloor)} | ${percent(r.toBestPeer)} | ${target} |`);
  }
  return lines.join('\n');
}

/** The result as JSON in BENCH_RESULTS (default bench/results/). */
export function writeResult(name, result) {
  const results = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, name), `${JSON.stringify(result, null, 2)}\n`);
}
