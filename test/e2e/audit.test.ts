import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '@palisade/audit';
import Database from 'better-sqlite3';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { authorizeInBrowser, readForm, ScriptedBrowser } from '../helpers/browser.js';
import { backchannelRequest, CIBA, Device, NotificationReceiver, redeem, startCibaIdp } from '../helpers/ciba.js';
import { assistant, authorizationRequest } from '../helpers/clients.js';
import { ExchangingService, SAML2_TYPE } from '../helpers/exchange.js';
import { basic, field, post } from '../helpers/http.js';
import { DEMO, DEMO_CONFIG, type TestIdp } from '../helpers/idp.js';

const Q4 = { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' };
const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));

/** What a stored entry parses back to: the catalogue's event type. */
type Entry = AuditEvent;

describe('the audit trail: what the IdP records, and proof that nobody changed it', () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let port: number;
  const secrets: string[] = [];
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';

  /** Runs the CLI against the test realm's data directory. */
  function palisade(args: string[], dataDir = server.dataDir) {
    return spawnSync(process.execPath, [CLI, ...args, '--config', DEMO_CONFIG], {
      encoding: 'utf8',
      env: { ...process.env, PALISADE_DATA: dataDir, PALISADE_IDP_PORT: String(port) },
    });
  }

  function entries(dataDir = server.dataDir): { seq: number; entry: Entry }[] {
    const db = new Database(join(dataDir, 'palisade.db'), { readonly: true });
    try {
      return (db.prepare('SELECT seq, entry FROM audit ORDER BY seq').all() as { seq: number; entry: string }[]).map((row) => ({
        seq: row.seq,
        entry: JSON.parse(row.entry) as Entry,
      }));
    } finally {
      db.close();
    }
  }

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver, { mutate: (d) => Object.assign(d, { audit: { checkpoint_every: 10 } }) });
    try {
      await session();
    } finally {
      await server.stop();
    }
  });

  /** A morning's traffic: an agent, a person through three services, a CIBA approval, and some refusals. */
  async function session(): Promise<void> {
    port = Number(new URL(server.issuer).port);
    secrets.push(DEMO.alice.password, DEMO.opsBot.secret, DEMO.assistant.secret, DEMO.reportService.secret, DEMO.alice.totpSecret);

    // An agent, with a trace of its own.
    const cc = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, basic(DEMO.opsBot.id, DEMO.opsBot.secret));
    secrets.push(field(cc, 'access_token'));
    await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(DEMO.opsBot.id, DEMO.opsBot.secret), traceparent: `00-${trace}-00f067aa0ba902b7-01` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    }).then(async (r) => secrets.push(((await r.json()) as { access_token: string }).access_token));
    await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, basic(DEMO.opsBot.id, 'wrong-secret'));

    // A person: one wrong password, then password, TOTP, consent; then reports exchanges onward, also as SAML.
    const config = await assistant(server.issuer);
    const browser = new ScriptedBrowser(server.issuer);
    const wrong = await authorizationRequest(config);
    const page = await browser.follow(wrong.url);
    const form = readForm(await page.response.text());
    await browser.request(new URL(form.action, page.url), { form: { ...form.fields, username: 'alice', password: 'not-her-password' } });
    server.clock.advance(30);
    const request = await authorizationRequest(config, {
      scope: 'openid tools.access',
      resource: DEMO.gateway,
      authorization_details: JSON.stringify([Q4]),
    });
    const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
    secrets.push(callback.searchParams.get('code') ?? '', request.verifier);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
    });
    secrets.push(tokens.access_token, tokens.id_token ?? '');
    const gateway = await ExchangingService.connect(server.issuer, DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
    const toReports = await gateway.exchange(tokens.access_token, {
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    });
    const reports = await ExchangingService.connect(server.issuer, DEMO.reportService.id, DEMO.reportService.secret);
    const toFiles = await reports.exchange(toReports.access_token, {
      resource: DEMO.tools.files,
      authorization_details: JSON.stringify([Q4]),
    });
    const saml = await gateway.exchange(tokens.access_token, { audience: DEMO.tools.hr, requested_token_type: SAML2_TYPE });
    secrets.push(toReports.access_token, toFiles.access_token, saml.access_token, await gateway.actorToken(), await reports.actorToken());

    // A CIBA approval.
    const device = new Device(server);
    await device.signIn('alice');
    const asked = await backchannelRequest(server, CIBA.poll, { scope: 'openid', login_hint: 'alice', binding_message: 'audit me' });
    secrets.push(field(asked, 'auth_req_id'));
    await device.approve((await device.pending())[0]?.id ?? '');
    const ciba = await redeem(server, CIBA.poll, field(asked, 'auth_req_id'));
    secrets.push(field(ciba, 'access_token'), field(ciba, 'id_token'));
  }
  after(async () => {
    await receiver.close();
    rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('the caller’s traceparent is continued: the token it got is recorded under its trace, with its jti', () => {
    const issued = entries().filter((e) => e.entry.event === 'token.issued' && e.entry.trace_id === trace);
    assert.equal(issued.length, 1);
    const jwt = decodeJwt(secrets[6] ?? '');
    assert.deepEqual(
      [issued[0]?.entry.client, issued[0]?.entry.sub, issued[0]?.entry.jti, issued[0]?.entry.data?.grant_type],
      [DEMO.opsBot.id, DEMO.opsBot.id, jwt.jti, 'client_credentials'],
    );
  });

  it('a person’s sign-in, consent, code and tokens, and the exchange that followed, are recorded in order with the act chain', () => {
    const events = entries().map((e) => e.entry);
    const names: string[] = events.map((e) => e.event);
    const order = [
      'user.authentication_failed',
      'user.authenticated',
      'consent.granted',
      'authorization_code.issued',
      'token.issued',
      'token.exchanged',
    ];
    let from = 0;
    for (const name of order) {
      const at = names.indexOf(name, from);
      assert.ok(at >= 0, `${name} after position ${from} in ${names.join(', ')}`);
      from = at;
    }
    const failed = events.find((e) => e.event === 'user.authentication_failed');
    assert.deepEqual([failed?.sub, failed?.outcome, failed?.reason], ['alice', 'failure', 'invalid']);
    const exchanges = events.filter((e) => e.event === 'token.exchanged');
    const subject = events.find((e) => e.event === 'token.issued' && e.client === DEMO.assistant.id);
    const [toReports, toFiles, saml] = exchanges;
    assert.equal(toReports?.derived_from, subject?.jti, 'each exchanged token names the token it came from');
    assert.equal(toFiles?.derived_from, toReports?.jti);
    assert.deepEqual(toFiles?.act, { sub: 'report-service', act: { sub: 'mcp-gateway', act: { sub: 'assistant' } } });
    assert.deepEqual([toFiles?.sub, toFiles?.client, toFiles?.data?.audience], ['alice', 'report-service', DEMO.tools.files]);
    assert.deepEqual([saml?.data?.token_type, saml?.data?.audience], ['urn:ietf:params:oauth:token-type:saml2', DEMO.tools.hr]);
  });

  it('L4: refusals are recorded: a failed client authentication names the client, and CIBA decisions name the request’s trace', () => {
    const events = entries().map((e) => e.entry);
    const failed = events.find((e) => e.event === 'client.authentication_failed');
    assert.deepEqual(
      [failed?.client, failed?.outcome, failed?.reason, failed?.data?.endpoint],
      [DEMO.opsBot.id, 'failure', 'invalid_client', '/token'],
    );
    const requested = events.find((e) => e.event === 'ciba.requested');
    const approved = events.find((e) => e.event === 'ciba.approved');
    assert.ok(requested?.trace_id);
    assert.equal(approved?.trace_id, requested?.trace_id, 'the approval joins the agent’s trace');
    assert.equal(approved?.data?.acr, 'urn:palisade:acr:ciba');
  });

  it('no token, code, secret, password or TOTP secret is anywhere in the audit table', () => {
    const db = readFileSync(join(server.dataDir, 'palisade.db'));
    const text = entries()
      .map((e) => JSON.stringify(e.entry))
      .join('\n');
    assert.ok(text.length > 1000);
    for (const secret of secrets.filter((s) => s.length >= 8)) {
      assert.equal(text.includes(secret), false, `a secret of ${secret.length} characters is in the audit trail`);
      assert.equal(db.includes(Buffer.from(secret)), false, `a secret of ${secret.length} characters is in the database file`);
    }
  });

  it('audit verify: intact', () => {
    const result = palisade(['audit', 'verify']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^audit trail intact: \d+ records, [1-9]\d* signed checkpoints\n$/);
  });

  /** A copy of the data directory, tampered with by someone with write access to the database. */
  function tampered(change: (db: Database.Database) => void): string {
    const copy = mkdtempSync(join(tmpdir(), 'palisade-tampered-'));
    cpSync(server.dataDir, copy, { recursive: true });
    const db = new Database(join(copy, 'palisade.db'));
    db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
    change(db);
    db.close();
    return copy;
  }

  for (const [name, change, seq, kind] of [
    [
      'an edit',
      (db: Database.Database) =>
        db.prepare(`UPDATE audit SET entry = replace(entry, '"outcome":"failure"', '"outcome":"success"') WHERE seq = 3`).run(),
      3,
      'edited',
    ],
    ['a deletion', (db: Database.Database) => db.prepare('DELETE FROM audit WHERE seq = 4').run(), 4, 'missing'],
    [
      'a reordering',
      (db: Database.Database) => {
        db.prepare('UPDATE audit SET seq = -5 WHERE seq = 5').run();
        db.prepare('UPDATE audit SET seq = 5 WHERE seq = 6').run();
        db.prepare('UPDATE audit SET seq = 6 WHERE seq = -5').run();
      },
      5,
      'out_of_place',
    ],
    [
      'an insertion',
      (db: Database.Database) => {
        const last = (db.prepare('SELECT max(seq) AS m FROM audit').get() as { m: number }).m;
        for (let seq = last; seq >= 7; seq--) db.prepare('UPDATE audit SET seq = seq + 1 WHERE seq = ?').run(seq);
        db.prepare(
          `INSERT INTO audit SELECT 7, entry, prev, hash, time, event, trace_id, sub, client, outcome FROM audit WHERE seq = 6`,
        ).run();
      },
      7,
      'out_of_place',
    ],
    [
      'a truncation of the tail behind a checkpoint',
      (db: Database.Database) => {
        const checkpoint = (db.prepare('SELECT max(seq) AS m FROM audit_checkpoints').get() as { m: number }).m;
        db.prepare('DELETE FROM audit WHERE seq >= ?').run(checkpoint - 2);
      },
      undefined,
      'truncated',
    ],
  ] as const) {
    it(`${kind === 'truncated' ? 'L2' : 'L1'}: audit verify pinpoints ${name}`, () => {
      const copy = tampered(change);
      try {
        const result = palisade(['audit', 'verify'], copy);
        assert.equal(result.status, 1, result.stdout + result.stderr);
        const match = /TAMPERED at record (\d+) \((\w+)\)/.exec(result.stdout);
        assert.ok(match, result.stdout);
        assert.equal(match[2], kind);
        if (seq !== undefined) assert.equal(Number(match[1]), seq);
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
    });
  }

  it('audit query and tail find events by user, trace and outcome; export writes verifiable JSON Lines', () => {
    const byTrace = palisade(['audit', 'query', '--trace', trace, '--json']);
    assert.equal(byTrace.status, 0, byTrace.stderr);
    const lines = byTrace.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Entry);
    assert.ok(lines.length >= 1 && lines.every((e) => e.trace_id === trace));
    const failures = palisade(['audit', 'query', '--user', 'alice', '--outcome', 'failure']);
    assert.match(failures.stdout, /user\.authentication_failed\s+failure\s+sub=alice/);
    const tail = palisade(['audit', 'tail', '-n', '3']);
    assert.equal(tail.stdout.trim().split('\n').length, 3);
    const exported = palisade(['audit', 'export']).stdout.trim().split('\n');
    const first = JSON.parse(exported[0] ?? '{}') as { seq: number; prev: string; hash: string; event: Entry };
    assert.equal(first.seq, 1);
    assert.equal(first.prev, '0'.repeat(64));
    assert.equal(exported.length, entries().length);
    const badSince = palisade(['audit', 'query', '--since', 'yesterday-ish']);
    assert.equal(badSince.status, 2);
  });
});
