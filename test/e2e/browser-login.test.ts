import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { totpNow } from '../helpers/browser.js';
import { chromiumUnavailable, launchChromium } from '../helpers/chromium.js';
import { assistant } from '../helpers/clients.js';
import { DEMO, freePort, startTestIdp, type TestIdp } from '../helpers/idp.js';

const skip = chromiumUnavailable();
/** Screenshots meant for people: test/output/ (not committed). */
const OUTPUT = fileURLToPath(new URL('../../output/', import.meta.url));

describe('login, TOTP and consent pages in headless Chromium', { skip }, () => {
  let server: TestIdp;
  let browser: Browser;
  let callback: Server;
  let redirectUri: string;
  const shots = mkdtempSync(join(tmpdir(), 'palisade-shots-'));

  before(async () => {
    server = await startTestIdp();
    browser = await launchChromium();
    const port = await freePort();
    redirectUri = `http://127.0.0.1:${port}/callback`;
    // The client's loopback redirect listener (RFC 8252 §7.3): any port is accepted.
    callback = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/plain' }).end('signed in'));
    await new Promise<void>((resolve) => callback.listen(port, '127.0.0.1', resolve));
  });
  after(async () => {
    await browser?.close();
    callback?.close();
    await server?.close();
  });

  async function authorizationUrl(config: client.Configuration) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    return { url, verifier, state };
  }

  it('alice signs in with password and TOTP, consents, and the client redeems the code', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationUrl(config);
    const context = await browser.newContext();
    const page = await context.newPage();
    const stylesheets: number[] = [];
    page.on('response', (response) => {
      if (response.url().endsWith('/assets/palisade.css')) stylesheets.push(response.status());
    });

    await page.goto(request.url.href);
    assert.equal(await page.title(), 'Sign in · Palisade');
    assert.equal(await page.getByText('Finance assistant').count(), 1, 'client name shown (SECURITY S4)');
    await page.screenshot({ path: join(shots, '1-login.png') });
    await page.getByLabel('Username').fill(DEMO.alice.username);
    await page.getByLabel('Password').fill(DEMO.alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByLabel('Verification code').waitFor();
    await page.screenshot({ path: join(shots, '2-totp.png') });
    await page.getByLabel('Verification code').fill(await totpNow(DEMO.alice.totpSecret, server.clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();

    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await page.screenshot({ path: join(shots, '3-consent.png') });
    assert.equal(stylesheets.at(-1), 200, 'the stylesheet loads under the page CSP');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);

    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: request.verifier,
      expectedState: request.state,
      idTokenExpected: true,
    });
    assert.equal(tokens.claims()?.sub, 'alice');
    assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);

    // SSO: the same browser goes straight back to the client, no page shown.
    const again = await authorizationUrl(config);
    await page.goto(again.url.href);
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    const second = await client.authorizationCodeGrant(config, new URL(page.url()), {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
      idTokenExpected: true,
    });
    assert.equal(second.claims()?.sub, 'alice');
    await context.close();
  });

  it('the consent page words a file_access detail, "Read Q4-report.pdf in the Finance share of the File Server" (RFC 9396)', async () => {
    const config = await assistant(server.issuer);
    const verifier = client.randomPKCECodeVerifier();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      authorization_details: JSON.stringify([
        { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' },
      ]),
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url.href);
    await page.getByLabel('Username').fill(DEMO.alice.username);
    await page.getByLabel('Password').fill(DEMO.alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    server.clock.advance(30); // TOTP codes are single-use: the next time step
    await page.getByLabel('Verification code').fill(await totpNow(DEMO.alice.totpSecret, server.clock.now()));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    const sentence = page.getByText('Read Q4-report.pdf in the Finance share of the File Server');
    assert.equal(await sentence.isVisible(), true);
    assert.equal(
      await page.getByText('http://127.0.0.1:9410/finance', { exact: true }).isVisible(),
      true,
      'the raw location is listed too',
    );
    mkdirSync(OUTPUT, { recursive: true });
    const shot = join(OUTPUT, 'consent-file-access.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    await context.close();
  });

  it('a wrong password shows an error on the login page and signs nobody in', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationUrl(config);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(request.url.href);
    await page.getByLabel('Username').fill(DEMO.bob.username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').textContent(), 'The username or password is incorrect.');
    assert.equal(
      (await context.cookies()).some((c) => c.name === 'palisade_session'),
      false,
    );
    await context.close();
  });

  it('refuses to be framed by another origin (SECURITY S2)', async () => {
    const config = await assistant(server.issuer);
    const request = await authorizationUrl(config);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${redirectUri}?frame-host`);
    // setContent waits for the load event, which waits for the frame to load or be blocked.
    await page.setContent(`<iframe id="f" src="${request.url.href}"></iframe>`, { waitUntil: 'load' });
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const framedText = frame ? await frame.content().catch(() => '') : '';
    assert.doesNotMatch(framedText, /Sign in/, 'the login page must not render inside a frame');
    await context.close();
  });
});
