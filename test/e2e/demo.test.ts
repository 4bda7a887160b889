import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type GatewayDomain, startGatewayDomain } from '../helpers/gateway.js';
import { DEMO_CONFIG, WallClock } from '../helpers/idp.js';

const CLI = fileURLToPath(new URL('../../../packages/cli/bin/palisade.js', import.meta.url));

/** Wall-clock time (the CLI computes TOTP codes from it, as a phone would). */
describe('palisade demo --headless --auto-approve: the whole story, unattended', () => {
  let domain: GatewayDomain;
  const bufferDir = mkdtempSync(join(tmpdir(), 'palisade-demo-'));
  let output = '';
  let code = -1;

  before(async () => {
    domain = await startGatewayDomain({ clock: new WallClock(), audit: { bufferDir }, wait: 120 });
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'demo', '--headless', '--auto-approve', '--config', DEMO_CONFIG], {
        env: {
          ...process.env,
          PALISADE_ISSUER: domain.server.issuer,
          PALISADE_GATEWAY: domain.url,
          PALISADE_DATA: domain.server.dataDir,
          PALISADE_IDP_PORT: new URL(domain.server.issuer).port,
        },
      });
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk;
      });
      child.on('close', (exit) => {
        code = exit ?? -1;
        resolve();
      });
    });
  });
  after(async () => {
    await domain?.close();
    rmSync(bufferDir, { recursive: true, force: true });
  });

  const section = (n: number) =>
    output.slice(output.indexOf(`[${n}/7]`), output.indexOf(`[${n + 1}/7]`) >= 0 ? output.indexOf(`[${n + 1}/7]`) : undefined);

  it('exits 0 and says every step went as described', () => {
    assert.equal(code, 0, output);
    assert.match(output, /Every step went as described\.\n$/);
  });

  it('1: ops-bot reads the report schedules through the gateway', () => {
    assert.match(section(1), /✔ schedules: Q4-report\.pdf next on 2027-01-05; budget-2027\.xlsx next on 2027-11-15/);
  });

  it('2–3: alice allows three details; the files tool sees her through reports, the gateway and the assistant', () => {
    assert.match(section(2), /✔ alice allowed 3 detail\(s\)/);
    assert.match(section(3), /✔ files\.read: “Q4 2026 financial report\.”/);
    assert.match(section(3), /✔ the files tool saw alice, acting through report-service ← mcp-gateway ← assistant/);
  });

  it('4: the payment waits for alice, shows on her device, is approved with TOTP and made', () => {
    assert.match(section(4), /… waiting for alice to approve on their device/);
    assert.match(section(4), /… on alice’s device: “Pay EUR 25000\.00 to Acme Supplies GmbH”/);
    assert.match(section(4), /✔ payment accepted, initiated by alice after her approval/);
  });

  it('5: HR reads alice’s record from a SAML assertion', () => {
    assert.match(section(5), /✔ HR record: username alice/);
  });

  it('6: bob is refused at consent policy, and by the gateway with the detail he lacks', () => {
    assert.match(section(6), /✘ the IdP refused bob: oauth\.\w+ \(as it should be\)/);
    assert.match(
      section(6),
      /✘ the gateway answered 403 insufficient_scope: the call needs \[\{"type":"file_access".*"identifier":"Q4-report\.pdf"\}\] \(as it should be\)/,
    );
  });

  it('7: the trail of the session, readable: who through whom, allowed or denied, why', () => {
    const trail = section(7);
    assert.match(trail, /✔ gateway\s+tool\.call_allowed tools\/call payments\.transfer — alice via assistant/);
    // CIBA polls that found nothing decided yet are not refusals.
    assert.doesNotMatch(trail, /authorization_pending/);
    assert.match(trail, /✔ idp\s+ciba\.approved — alice/);
    assert.match(trail, /✔ tool:files\s+tool\.call_allowed GET \/:folder\/:name — alice via assistant → mcp-gateway → report-service/);
    assert.match(trail, /✘ gateway\s+tool\.call_denied tools\/call files\.read — bob via assistant \(insufficient_scope\)/);
    assert.doesNotMatch(output, /eyJ/);
  });
});
