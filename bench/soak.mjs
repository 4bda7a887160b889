// The memory soak: the all-in-one demo process (`npm start`: IdP, gateway and tools in one process,
// with the Node flags of package.json's start script) under client_credentials and gateway
// tools/call load; its RSS sampled every second from /proc. Rate limits are lifted in a copy of the demo configuration (one load generator, one address).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parse, stringify } from 'yaml';

const demo = (name) => fileURLToPath(new URL(`../examples/demo/${name}`, import.meta.url));
const CLI = fileURLToPath(new URL('../packages/cli/bin/palisade.js', import.meta.url));

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not come up`);
}

/** The Node flags `npm start` runs the demo with (package.json), so the soak measures that process. */
function npmStartFlags() {
  const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

export async function soak(seconds) {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-soak-'));
  const config = parse(readFileSync(demo('palisade.yaml'), 'utf8'));
  const unlimited = { per_client: 1e9, per_ip: 1e9 };
  config.rate_limits = { token: unlimited, par: unlimited, backchannel_authentication: unlimited };
  writeFileSync(join(dir, 'palisade.yaml'), stringify(config));
  copyFileSync(demo('gateway.yaml'), join(dir, 'gateway.yaml'));
  const child = spawn(process.execPath, [...npmStartFlags(), CLI, 'start', '--config', join(dir, 'palisade.yaml')], {
    env: { ...process.env, PALISADE_DATA: join(dir, 'data') },
    stdio: 'ignore',
  });
  try {
    await waitFor('http://127.0.0.1:9401/healthz');
    const basic = `Basic ${Buffer.from('ops-bot:ops-bot-secret').toString('base64')}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
    const details = JSON.stringify([{ type: 'tool_access', locations: ['http://127.0.0.1:9411'], actions: ['reports.schedules'] }]);
    const issued = await fetch('http://127.0.0.1:9400/token', {
      method: 'POST',
      headers: form,
      body: new URLSearchParams({ grant_type: 'client_credentials', authorization_details: details }),
    });
    const { access_token: token } = await issued.json();
    const samples = [];
    const sampler = setInterval(() => samples.push(rssOf(child.pid)), 1000);
    const load = (options) => autocannon({ connections: 25, duration: seconds, ...options });
    const [tokens, calls] = await Promise.all([
      load({ url: 'http://127.0.0.1:9400/token', method: 'POST', headers: form, body: 'grant_type=client_credentials' }),
      load({
        url: 'http://127.0.0.1:9401/mcp',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'reports.schedules', arguments: {} } }),
      }),
    ]);
    clearInterval(sampler);
    const mb = (bytes) => Math.round(bytes / 1024 / 1024);
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    return {
      seconds,
      requests: { token: tokens.requests.total, toolsCall: calls.requests.total, non2xx: tokens.non2xx + calls.non2xx },
      peakMb: mb(Math.max(...samples)),
      firstMb: mb(mean(samples.slice(0, quarter))),
      lastMb: mb(mean(samples.slice(-quarter))),
      samplesMb: samples.map(mb),
    };
  } finally {
    // Its data directory goes only once it has exited: until then its threads may still write there.
    const exited = child.exitCode === null && child.signalCode === null ? once(child, 'exit') : undefined;
    child.kill();
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
