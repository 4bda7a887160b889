import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError, type AuthorizationDetail, AutonomousAgent, connectToGateway, UserAgent } from '@palisade/agent';
import { newTraceId, traceparent } from '@palisade/audit';
import type { Store } from '@palisade/store';
import { authorizeInBrowser, ScriptedBrowser, totpNow } from './headless.js';

/** The demo realm's published accounts (README): a demo, not a secret. */
const ALICE = { username: 'alice', password: 'alice-password', totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' };
const BOB = { username: 'bob', password: 'bob-password' };

const Q4: AuthorizationDetail = {
  type: 'file_access',
  locations: ['http://127.0.0.1:9410/finance'],
  actions: ['read'],
  identifier: 'Q4-report.pdf',
};
const TRANSFER = { amount: '25000.00', currency: 'EUR', creditorName: 'Acme Supplies GmbH', iban: 'DE89370400440532013000' };
const PAYMENT: AuthorizationDetail = {
  type: 'payment_initiation',
  locations: ['http://127.0.0.1:9412'],
  actions: ['initiate'],
  instructedAmount: { currency: TRANSFER.currency, amount: TRANSFER.amount },
  creditorName: TRANSFER.creditorName,
  creditorAccount: { iban: TRANSFER.iban },
};
const HR: AuthorizationDetail = { type: 'tool_access', locations: ['http://127.0.0.1:9413'], actions: ['hr.employee'] };
const SCHEDULES: AuthorizationDetail = { type: 'tool_access', locations: ['http://127.0.0.1:9411'], actions: ['reports.schedules'] };

export interface WalkthroughOptions {
  readonly issuer: string;
  readonly gateway: string;
  /** Sign people in by driving the IdP's pages (the published demo passwords and TOTP secret) instead of a browser. */
  readonly headless: boolean;
  /** Approve the payment through the device API, as alice's phone would. */
  readonly autoApprove: boolean;
  /** The IdP's store, to print the session's audit trail (undefined: not on this machine). */
  readonly store: Store | undefined;
  readonly out: (text: string) => void;
}

type Content = { type: string; text?: string; resource?: { text?: string } };

/** The text of a tool result: its text blocks and embedded documents. */
function textOf(result: { content?: unknown }): string {
  return ((result.content ?? []) as Content[]).map((c) => c.text ?? c.resource?.text ?? '').join('\n');
}

/**
 * `palisade demo`: the four patterns of ARCHITECTURE.md against a running
 * demo domain, step by step, each with what it shows and what happened, then
 * the session's audit trail. Every step is real: real tokens, real consent,
 * real exchanges, a real approval. Returns the number of steps that did not
 * go as the narration says.
 */
export async function walkthrough(options: WalkthroughOptions): Promise<number> {
  const { issuer, gateway, out } = options;
  const started = Date.now();
  let failures = 0;
  const steps = 7;
  let n = 0;
  const step = (title: string, why: string) => out(`\n[${++n}/${steps}] ${title}\n    ${why}\n`);
  const ok = (text: string) => out(`    ✔ ${text}\n`);
  const refused = (text: string) => out(`    ✘ ${text} (as it should be)\n`);
  const failed = (text: string) => {
    failures++;
    out(`    ✖ ${text}\n`);
  };
  const traced = () => ({ traceparent: traceparent(newTraceId()) });
  // One browser session for alice: her sign-in also serves the device app's sign-in (SSO), so one TOTP code.
  const aliceBrowser = new ScriptedBrowser(issuer);
  const signIn = (browser: ScriptedBrowser, who: typeof ALICE | typeof BOB) => async (url: URL) => {
    if (!options.headless) {
      out(`    → open this page and sign in as ${who.username} (password ${who.password}):\n      ${url.href}\n`);
      return;
    }
    const callback = await authorizeInBrowser(browser, url, { ...who, now: Math.floor(Date.now() / 1000) });
    await (await fetch(callback)).text();
  };

  step(
    'ops-bot, an autonomous agent, reads the report schedules',
    'Client credentials with one tool action (RFC 9396): the gateway exchanges its token for the reports tool.',
  );
  try {
    const opsBot = new AutonomousAgent({
      issuer,
      clientId: 'ops-bot',
      credentials: { clientSecret: 'ops-bot-secret' },
      resource: gateway,
      authorizationDetails: [SCHEDULES],
    });
    const mcp = await connectToGateway(gateway, opsBot, { headers: traced() });
    const result = await mcp.callTool({ name: 'reports.schedules', arguments: {} });
    await mcp.close();
    const schedules = (result.structuredContent as { schedules?: { report: string; next: string }[] } | undefined)?.schedules ?? [];
    if (result.isError || schedules.length === 0) failed(`reports.schedules: ${textOf(result)}`);
    else ok(`schedules: ${schedules.map((s) => `${s.report} next on ${s.next}`).join('; ')}`);
  } catch (error) {
    failed(String(error instanceof Error ? error.message : error));
  }

  step(
    'The finance assistant acts for alice',
    'PAR + PKCE + RAR: alice signs in (password, TOTP) and allows exactly three things: reading Q4-report.pdf, one payment, her HR record.',
  );
  const assistant = new UserAgent({
    issuer,
    clientId: 'assistant',
    credentials: { clientSecret: 'assistant-secret' },
    scope: 'openid tools.access',
    resource: gateway,
    authorizationDetails: [Q4, PAYMENT, HR],
    openBrowser: signIn(aliceBrowser, ALICE),
  });
  let signedIn = false;
  try {
    const tokens = await assistant.login();
    signedIn = true;
    ok(`alice allowed ${tokens.authorizationDetails?.length ?? 0} detail(s); the token's audience is the gateway alone`);
  } catch (error) {
    failed(`sign-in: ${error instanceof Error ? error.message : String(error)}`);
  }

  step(
    'On alice’s behalf, through a chain',
    'The gateway reads Q4-report.pdf, then the reports service summarizes it: it exchanges again for the files tool.',
  );
  if (signedIn) {
    try {
      const mcp = await connectToGateway(gateway, assistant, { headers: traced() });
      const read = await mcp.callTool({ name: 'files.read', arguments: { path: 'Q4-report.pdf' } });
      if (read.isError) failed(`files.read: ${textOf(read)}`);
      else ok(`files.read: “${textOf(read).split('.')[0]}.”`);
      const summary = await mcp.callTool({ name: 'reports.summarize', arguments: { path: 'Q4-report.pdf' } });
      const readAs = (summary.structuredContent as { readAs?: { subject: string; actors: string[] } } | undefined)?.readAs;
      if (summary.isError || !readAs) failed(`reports.summarize: ${textOf(summary)}`);
      else ok(`the files tool saw ${readAs.subject}, acting through ${readAs.actors.join(' ← ')}`);
      await mcp.close();
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
    }
  }

  step(
    'A payment of EUR 25,000 waits for alice’s approval on her device',
    `Above EUR 10,000 the gateway asks her through CIBA; approve it at ${issuer}/device${options.autoApprove ? ' (here: through the device API, as her phone would)' : ''}.`,
  );
  if (signedIn) {
    try {
      const mcp = await connectToGateway(gateway, assistant, { headers: traced() });
      const pending = mcp.callTool(
        { name: 'payments.transfer', arguments: TRANSFER },
        {
          onprogress: (progress) => out(`    … ${progress.message ?? 'waiting'}\n`),
          timeout: 10 * 60_000,
        },
      );
      if (options.autoApprove) await approveOnDevice(issuer, aliceBrowser, options.headless, out);
      const result = await pending;
      await mcp.close();
      const made = result.structuredContent as { status?: string; initiatedBy?: string } | undefined;
      if (result.isError || made?.status !== 'accepted') failed(`payments.transfer: ${textOf(result)}`);
      else ok(`payment ${made.status}, initiated by ${made.initiatedBy} after her approval`);
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
    }
  }

  step(
    'The legacy HR system takes only SAML',
    'The gateway exchanges alice’s token for a signed SAML assertion (RFC 8693) and reads her record.',
  );
  if (signedIn) {
    try {
      const mcp = await connectToGateway(gateway, assistant, { headers: traced() });
      const record = await mcp.callTool({ name: 'hr.employee', arguments: { username: 'alice' } });
      await mcp.close();
      const employee = record.structuredContent as { name?: string; department?: string } | undefined;
      if (record.isError || !employee) failed(`hr.employee: ${textOf(record)}`);
      else
        ok(
          `HR record: ${Object.entries(employee)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')}`,
        );
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
    }
  }

  step(
    'bob asks for the finance report',
    'Only the finance group may be granted file_access: the IdP refuses at consent; with a token of his own, the gateway refuses the call.',
  );
  const bobBrowser = new ScriptedBrowser(issuer);
  try {
    await new UserAgent({
      issuer,
      clientId: 'assistant',
      credentials: { clientSecret: 'assistant-secret' },
      scope: 'tools.access',
      resource: gateway,
      authorizationDetails: [Q4],
      openBrowser: signIn(bobBrowser, BOB),
    }).login();
    failed('bob was granted the finance file');
  } catch (error) {
    if (error instanceof AgentError && error.family === 'oauth') refused(`the IdP refused bob: ${error.code}`);
    else failed(error instanceof Error ? error.message : String(error));
  }
  try {
    const bob = new UserAgent({
      issuer,
      clientId: 'assistant',
      credentials: { clientSecret: 'assistant-secret' },
      scope: 'tools.access',
      resource: gateway,
      openBrowser: signIn(bobBrowser, BOB),
    });
    await bob.login();
    const response = await fetch(gateway, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await bob.accessToken()}`,
        ...traced(),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'files.read', arguments: { path: 'Q4-report.pdf' } },
      }),
    });
    const body = (await response.json()) as { error?: string; authorization_details?: AuthorizationDetail[] };
    if (response.status === 403)
      refused(`the gateway answered 403 ${body.error}: the call needs ${JSON.stringify(body.authorization_details)}`);
    else failed(`the gateway answered ${response.status}`);
  } catch (error) {
    failed(error instanceof Error ? error.message : String(error));
  }

  step(
    'The audit trail of this session',
    'Who, acting through whom, did what, allowed or denied, and why: one hash-chained trail for every component.',
  );
  if (options.store) {
    // Tools and the gateway deliver their events in the background: give them a moment.
    await sleep(1500);
    for (const row of await options.store.readAudit({ since: started })) out(`    ${trailLine(row.entry)}\n`);
  } else out(`    (the IdP's store is not on this machine: sign in as carol at ${issuer}/audit)\n`);
  out(failures === 0 ? '\nEvery step went as described.\n' : `\n${failures} step(s) did not go as described.\n`);
  return failures;
}

/** One event as a readable line: time, where, what, outcome, who through whom, why. */
function trailLine(entry: string): string {
  const e = JSON.parse(entry) as {
    time: string;
    component: string;
    event: string;
    outcome: string;
    sub?: string;
    client?: string;
    act?: unknown;
    reason?: string;
    data?: { operation?: string };
  };
  const chain: string[] = [];
  for (let act = e.act as { sub?: string; act?: unknown } | undefined; act?.sub; act = act.act as typeof act) chain.push(act.sub);
  const who = e.sub
    ? `${e.sub}${chain.length ? ` via ${chain.reverse().join(' → ')}` : e.client && e.client !== e.sub ? ` via ${e.client}` : ''}`
    : (e.client ?? '');
  const what = e.data?.operation ? ` ${e.data.operation}` : '';
  const mark = e.outcome === 'success' ? '✔' : '✘';
  return `${e.time.slice(11, 19)} ${mark} ${e.component.padEnd(13)} ${e.event}${what} — ${who}${e.reason ? ` (${e.reason})` : ''}`;
}

/**
 * alice's phone: a token for the device API (her browser session signs the
 * app in, SSO), then the pending request approved with a TOTP code of a time
 * step not used yet (codes are single-use per step).
 */
async function approveOnDevice(issuer: string, browser: ScriptedBrowser, headless: boolean, out: (text: string) => void): Promise<void> {
  const phone = new UserAgent({
    issuer,
    clientId: 'palisade-cli',
    scope: 'device.approve',
    resource: `${issuer}/device`,
    openBrowser: async (url) => {
      if (!headless) throw new Error('--auto-approve signs the device app in headlessly: add --headless');
      const callback = await authorizeInBrowser(browser, url, { ...ALICE, now: Math.floor(Date.now() / 1000) });
      await (await fetch(callback)).text();
    },
  });
  await phone.login();
  const token = await phone.accessToken();
  const api = `${issuer}/device/api/requests`;
  let request: { id: string; binding_message: string | null } | undefined;
  for (let i = 0; i < 200 && !request; i++) {
    const { requests } = (await (await fetch(api, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      requests: { id: string; binding_message: string | null }[];
    };
    request = requests[0];
    if (!request) await sleep(100);
  }
  if (!request) throw new Error('the approval request never reached the device');
  out(`    … on alice’s device: “${request.binding_message}”\n`);
  // A fresh TOTP step each attempt: the sign-in used the current one, and codes are single-use per step.
  let lastStep = Math.floor(Date.now() / 30_000);
  let refusal = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    while (Math.floor(Date.now() / 30_000) <= lastStep) await sleep(500);
    lastStep = Math.floor(Date.now() / 30_000);
    const code = await totpNow(ALICE.totpSecret, lastStep * 30);
    const answer = await fetch(`${api}/${request.id}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    if (answer.ok) {
      out('    … alice approved with a TOTP code\n');
      return;
    }
    refusal = ((await answer.json()) as { error?: string }).error ?? String(answer.status);
  }
  throw new Error(`the device could not approve (${refusal})`);
}
