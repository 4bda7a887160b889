import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('../../../bench/', import.meta.url));

/**
 * The benchmarks run (a smoke test: one second per figure, a few
 * connections). Their numbers are never asserted here — the machine is
 * shared and noisy; `npm run bench` reports ratios (docs/performance.md).
 */
describe('npm run bench still runs (tiny durations, no figures asserted)', () => {
  const results = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  after(() => rmSync(results, { recursive: true, force: true }));

  const run = (script: string) =>
    new Promise<{ code: number; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(BENCH, script)], {
        env: { ...process.env, BENCH_DURATION: '1', BENCH_ROUNDS: '1', BENCH_WARMUP: '1', BENCH_CONNECTIONS: '4', BENCH_RESULTS: results },
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.on('close', (code) => resolve({ code: code ?? -1, output }));
    });

  for (const [script, json, figure] of [
    ['token-endpoint.mjs', 'token-endpoint.json', /Palisade client_credentials \/ floor = /],
    ['gateway.mjs', 'gateway.json', /Gateway \/ bare SDK server, same downstream call = /],
  ] as const) {
    it(`${script}: prints its table and ratio, writes its JSON`, async () => {
      const { code, output } = await run(script);
      assert.equal(code, 0, output);
      assert.match(output, /\| server \| requests\/s \| p50 ms \| p99 ms \|/);
      assert.match(output, figure);
      const result = JSON.parse(readFileSync(join(results, json), 'utf8')) as { ratio: number };
      assert.ok(result.ratio > 0);
    });
  }
});
