// What every benchmark script shares: ports, the figure of one autocannon run, summaries and table rows.
import { mkdirSync, writeFileSync } from 'node:fs';
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

/** One autocannon run as a figure; any non-2xx or error fails the whole benchmark (a fast error is no result). */
export function figure(url, result) {
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const spread = (runs, key) => ({
  median: median(runs.map((r) => r[key])),
  min: Math.min(...runs.map((r) => r[key])),
  max: Math.max(...runs.map((r) => r[key])),
});

/** Median, min and max of each of rps, p50 and p99 over the rounds. */
export const summary = (runs) => ({ rps: spread(runs, 'rps'), p50: spread(runs, 'p50'), p99: spread(runs, 'p99') });

/** One row of the markdown table. */
export const row = (name, r) =>
  `| ${name} | ${r.rps.median.toFixed(0)} (${r.rps.min.toFixed(0)}–${r.rps.max.toFixed(0)}) | ${r.p50.median} | ${r.p99.median} |`;

/** The result as JSON in BENCH_RESULTS (default bench/results/). */
export function writeResult(name, result) {
  const results = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, name), `${JSON.stringify(result, null, 2)}\n`);
}
