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
        env: {
          ...process.env,
          BENCH_DURATION: '1',
          BENCH_ROUNDS: '1',
          BENCH_WARMUP: '0',
          BENCH_CONNECTIONS: '4',
          BENCH_SOAK: '3',
          BENCH_RESULTS: results,
        },
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

  it('suite.mjs: prints every figure with its ratios, the sign-in flows and the memory soak, and writes its JSON', async () => {
    const { code, output } = await run('suite.mjs');
    assert.equal(code, 0, output);
    assert.match(
      output,
      /\| figure \| requests\/s median \(min–max\) \| p50 ms \| p99 ms \| ÷ floor \| ÷ best peer \| target \(÷ floor\) \|/,
    );
    for (const figure of [
      'floor: sign one ES256 JWT',
      'oidc-provider 9.13: client_credentials, JWT',
      '@jmondi/oauth2-server 4: token exchange',
      'Palisade: client_credentials',
      'Palisade: refresh (rotating)',
      'Palisade: token exchange (delegation, one hop)',
      'Palisade resource-server SDK: verify (every request)',
      'Palisade: introspection',
      'Palisade: PAR push',
      'bare MCP SDK server + its bearer check (JWT)',
      'Palisade gateway: tools/call, cold (exchange on every call)',
    ]) {
      assert.ok(output.includes(`| ${figure} |`), `${figure} missing from the table`);
    }
    assert.match(output, /complete authorization-code flows with PKCE .*: [0-9.]+ per second/);
    assert.match(output, /Memory, all-in-one demo process .*peak RSS [0-9]+ MB/);
    const result = JSON.parse(readFileSync(join(results, 'suite.json'), 'utf8')) as { figures: { toFloor?: number; role: string }[] };
    assert.ok(result.figures.filter((f) => f.role === 'palisade').every((f) => (f.toFloor ?? 1) > 0));
  });

  it('cluster.mjs: one and two IdP nodes on PostgreSQL, with their ratio, and its JSON', async () => {
    const { code, output } = await run('cluster.mjs');
    assert.equal(code, 0, output);
    // Without PostgreSQL the script says SKIP and exits 0 (under CI=true it fails instead).
    const skip = /^SKIP: .*$/m.exec(output);
    if (skip) {
      console.log(skip[0]);
      return;
    }
    assert.match(output, /\| one IdP node \| [0-9]+ \|/);
    assert.match(output, /\| two IdP nodes, one database \| [0-9]+ \|/);
    assert.match(output, /two nodes \/ one node = [0-9.]+×/);
    const result = JSON.parse(readFileSync(join(results, 'cluster.json'), 'utf8')) as { ratio: number };
    assert.ok(result.ratio > 0);
  });
});
