import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { totpNow } from '../helpers/browser.js';
import { chromiumUnavailable, launchChromium } from '../helpers/chromium.js';
import { NotificationReceiver, PAYMENT, startCibaIdp } from '../helpers/ciba.js';
import { assistant } from '../helpers/clients.js';
import { DEMO, type TestIdp } from '../helpers/idp.js';

const skip = chromiumUnavailable();
/** Screenshots meant for people: test/output/ (not committed). */
const OUTPUT = fileURLToPath(new URL('../../output/', import.meta.url));

describe('the authentication device in headless Chromium: a CIBA approval arrives live and is approved with TOTP', { skip }, () => {
  let server: TestIdp;
  let receiver: NotificationReceiver;
  let browser: Browser;

  before(async () => {
    receiver = await new NotificationReceiver().start();
    server = await startCibaIdp(receiver);
    browser = await launchChromium();
    mkdirSync(OUTPUT, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  it('alice signs in on /device, the payment request appears without a reload, she approves with a code, and the polling client gets its tokens', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await context.newPage();
    const scripts: number[] = [];
    const cspViolations: string[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/assets/device.js')) scripts.push(response.status());
    });
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(`${server.issuer}/device`);
    await page.getByLabel('Username').fill(DEMO.alice.username);
    await page.getByLabel('Password').fill(DEMO.alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Verification code').waitFor();
    server.clock.advance(30);
    await page.getByLabel('Verification code').fill(await totpNow(DEMO.alice.totpSecret, server.clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    await page.getByText('Nothing is waiting for you.').waitFor();
    await page.screenshot({ path: join(OUTPUT, 'device-1-signed-in.png') });

    // From here on the page must not navigate: the request has to arrive over the event stream.
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations++;
    });

    const config = await assistant(server.issuer);
    const started = await client.initiateBackchannelAuthentication(config, {
      scope: 'openid',
      login_hint: 'alice',
      binding_message: 'Invoice <b>2026-118</b>',
      authorization_details: JSON.stringify([PAYMENT]),
    });
    const polled = client.pollBackchannelAuthenticationGrant(config, started);

    const card = page.locator('li.request');
    await card.waitFor({ timeout: 10_000 });
    assert.equal(navigations, 0, 'the request arrived without a reload');
    assert.equal(
      (await card.locator('.headline').textContent())?.trim(),
      'Finance assistant asks to make a payment of EUR 50000.00 to Acme Supplies GmbH (DE89370400440532013000)',
    );
    // Markup in the message arrives as text: the script inserts values with textContent only.
    assert.equal((await card.locator('.binding').textContent())?.trim(), 'The application shows: Invoice <b>2026-118</b>');
    assert.equal(await card.locator('.binding b').count(), 0);
    const fields = await card.locator('dt').allInnerTexts();
    assert.deepEqual(fields, [
      'locations',
      'actions',
      'instructedAmount.currency',
      'instructedAmount.amount',
      'creditorName',
      'creditorAccount.iban',
    ]);
    assert.equal(await page.getByText('Nothing is waiting for you.').isVisible(), false);
    await page.screenshot({ path: join(OUTPUT, 'device-2-request.png'), fullPage: true });

    server.clock.advance(30);
    await card.getByLabel('Code from your authenticator app').fill(await totpNow(DEMO.alice.totpSecret, server.clock.now()));
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').waitFor();
    assert.equal((await page.getByRole('status').textContent())?.trim(), 'Approved. The application has been told.');
    await page.screenshot({ path: join(OUTPUT, 'device-3-approved.png') });
    assert.equal(await page.locator('li.request').count(), 0, 'the decided request is gone');

    const tokens = await polled;
    const access = decodeJwt(tokens.access_token);
    assert.deepEqual([access.sub, access.acr], ['alice', 'urn:palisade:acr:ciba']);
    assert.deepEqual(access.authorization_details, [PAYMENT]);
    assert.ok(scripts.length >= 1 && scripts.every((status) => status === 200), 'the device script loads under the page CSP');
    assert.deepEqual(cspViolations, []);
    await context.close();
  });
});
