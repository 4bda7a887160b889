#!/usr/bin/env node
// Runs every compiled test file with Node's built-in test runner.
// Node 20's `--test` takes no globs, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = [
  'packages/core/dist/test',
  'packages/store/dist/test',
  'packages/audit/dist/test',
  'packages/idp/dist/test',
  'packages/gateway/dist/test',
  'packages/resource-server/dist/test',
  'packages/cli/dist/test',
  'test/dist/e2e',
];

function collect(dir) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

const files = roots.flatMap(collect).sort();
if (files.length === 0) {
  console.error('no compiled tests found; run `npm run build` first');
  process.exit(1);
}
const extra = process.argv.slice(2);
// --test-force-exit: a file whose setup failed half-way must not hang the run on the servers it left open.
const result = spawnSync(process.execPath, ['--test', '--test-force-exit', '--test-reporter=spec', ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
