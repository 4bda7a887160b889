import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Browser } from 'playwright-core';
import { ScriptedBrowser } from '../helpers/browser.js';
import { Q4 } from '../helpers/chain.js';
import { chromiumUnavailable, launchChromium } from '../helpers/chromium.js';
import { startGatewayDomain, userGatewayToken } from '../helpers/gateway.js';
import { DEMO, type TestIdp } from '../helpers/idp.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
/** Screenshots meant for people: test/output/ (not committed). */
const OUTPUT = fileURLToPath(new URL('../../output/', import.meta.url));

async function signIn(server: TestIdp, who: 'carol' | 'bob'): Promise<ScriptedBrowser> {
  const browser = new ScriptedBrowser(server.issuer);
  const page = await (await browser.request(`${server.issuer}/audit`)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const response = await browser.request(`${server.issuer}/audit/login`, { form: { csrf, ...DEMO[who] } });
  assert.equal(response.status, 303);
  return browser;
}

/** A realm whose trail holds one real agent → MCP gateway → reports → files call under TRACE. */
async function realmWithTrace(): Promise<{ server: TestIdp; close: () => Promise<void> }> {
  const bufferDir = mkdtempSync(join(tmpdir(), 'palisade-auditor-'));
  const domain = await startGatewayDomain({ audit: { bufferDir } });
  const token = (await userGatewayToken(domain, 'alice', [Q4])).token ?? assert.fail('alice got no token');
  const client = new Client({ name: 'palisade-cli', version: '1.0.0' });
  const headers = { authorization: `Bearer ${token}`, traceparent: `00-${TRACE}-00f067aa0ba902b7-01` };
  await client.connect(new StreamableHTTPClientTransport(new URL(domain.url), { requestInit: { headers } }));
  const result = await client.callTool({ name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } });
  assert.equal(result.isError, undefined, JSON.stringify(result));
  await client.close();
  await domain.trail();
  return {
    server: domain.server,
    async close() {
      await domain.close();
      rmSync(bufferDir, { recursive: true, force: true });
    },
  };
}

describe('the auditor page at /audit', () => {
  let server: TestIdp;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, close } = await realmWithTrace());
  });
  after(() => close());

  it('nobody signed in gets the sign-in page; a user outside auditors gets 403 and no events', async () => {
    const anonymous = await fetch(`${server.issuer}/audit?trace=${TRACE}`);
    const page = await anonymous.text();
    assert.equal(anonymous.status, 200);
    assert.match(page, /Sign in as an auditor/);
    assert.doesNotMatch(page, /token\.exchanged/);
    const bob = await signIn(server, 'bob');
    const refused = await bob.request(`${server.issuer}/audit?trace=${TRACE}`);
    const text = await refused.text();
    assert.equal(refused.status, 403);
    assert.match(text, /Not an auditor/);
    assert.doesNotMatch(text, /token\.exchanged/);
  });

  it('carol finds the trace: the timeline in order and the delegation chain as a tree; her search is audited', async () => {
    const carol = await signIn(server, 'carol');
    const response = await carol.request(`${server.issuer}/audit?trace=${TRACE}&since=24h`);
    assert.equal(response.status, 200);
    const page = await response.text();
    const events = [...page.matchAll(/<tr class="(?:success|failure)"><td>[^<]*<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    // The IdP's own events in the order they happened (each service's actor token before the exchange it
    // enables); the three decisions reported by other processes, whose clocks and deliveries race, in any order.
    assert.deepEqual(
      events.filter((e) => e.startsWith('idp ')),
      ['idp token.issued', 'idp token.exchanged', 'idp token.issued', 'idp token.exchanged'],
    );
    assert.deepEqual(events.filter((e) => !e.startsWith('idp ')).sort(), [
      'gateway tool.call_allowed',
      'tool:files tool.call_allowed',
      'tool:reports tool.call_allowed',
    ]);
    // alice → palisade-cli (her agent) → mcp-gateway → report-service → the files tool's decision, nested.
    const tree = /<ul class="tree">(.*?)<\/table>/s.exec(page)?.[1] ?? '';
    const order = ['alice', 'palisade-cli', 'mcp-gateway', 'report-service', 'http://127.0.0.1:9410 · allowed GET /:folder/:name'].map(
      (label) => tree.indexOf(`<span>${label}</span>`),
    );
    assert.ok(
      order.every((at, i) => at >= 0 && (i === 0 || at > (order[i - 1] ?? 0))),
      JSON.stringify(order),
    );
    await server.idp.context.audit.flush();
    const queried = await server.idp.context.store.readAudit({ event: 'audit.queried' });
    assert.equal(JSON.parse(queried.at(-1)?.entry ?? '{}').sub, 'carol');
  });

  it('filters are bounded and checked: a bad trace id or outcome is ignored, never echoed as markup', async () => {
    const carol = await signIn(server, 'carol');
    const page = await (await carol.request(`${server.issuer}/audit?trace=<script>&outcome=maybe&user=%3Cb%3Ex%3C/b%3E`)).text();
    assert.doesNotMatch(page, /<script>|<b>x<\/b>/);
    assert.match(page, /value="&#60;b&#62;x&#60;\/b&#62;"/);
  });
});

const skip = chromiumUnavailable();

describe('the auditor page in headless Chromium', { skip }, () => {
  let server: TestIdp;
  let browser: Browser;
  let close: () => Promise<void>;

  before(async () => {
    ({ server, close } = await realmWithTrace());
    browser = await launchChromium();
    mkdirSync(OUTPUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await close?.();
  });

  it('carol signs in, searches the trace, and reads who acted for alice at each hop', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.issuer}/audit`);
    await page.getByLabel('Username').fill(DEMO.carol.username);
    await page.getByLabel('Password').fill(DEMO.carol.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    await page.getByLabel('Trace id').fill(TRACE);
    await page.getByLabel('User').fill('alice');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: `Trace ${TRACE}` }).waitFor();
    const rows = await page
      .locator('table.timeline tbody tr')
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent).slice(1, 4)));
    // A match pulls in its whole trace: the reports service's own actor token is part of alice's call.
    assert.deepEqual(
      rows.filter((row) => row[0] === 'idp'),
      [
        ['idp', 'token.issued', 'success'],
        ['idp', 'token.exchanged', 'success'],
        ['idp', 'token.issued', 'success'],
        ['idp', 'token.exchanged', 'success'],
      ],
    );
    assert.deepEqual(
      rows
        .filter((row) => row[0] !== 'idp')
        .map((row) => row.join(' '))
        .sort(),
      ['gateway tool.call_allowed success', 'tool:files tool.call_allowed success', 'tool:reports tool.call_allowed success'],
    );
    const chain = await page.locator('ul.tree span').allTextContents();
    assert.deepEqual(chain.slice(0, 4), ['alice', 'palisade-cli', 'mcp-gateway', 'report-service']);
    assert.ok(chain.includes('http://127.0.0.1:9410 · allowed GET /:folder/:name'));
    await page.screenshot({ path: join(OUTPUT, 'audit-trace.png'), fullPage: true });
    await context.close();
  });
});
