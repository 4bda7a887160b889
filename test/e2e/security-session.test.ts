import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { authorizeInBrowser, pageKind, readForm, ScriptedBrowser, totpNow } from '../helpers/browser.js';
import { allowFrontChannel, DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

// ../shared/SECURITY.md "Session and consent" (S1–S4): the login, TOTP and consent pages over real HTTP.

const CHALLENGE = createHash('sha256').update('palisade-security-session-test-verifier-0123456789').digest('base64url');
const STATE = 'st-session';
const CLI_REDIRECT = 'http://127.0.0.1:53117/callback';

type Step = 'login' | 'totp' | 'consent';
const STEPS: readonly Step[] = ['login', 'totp', 'consent'];

/** A valid authorization URL for `assistant`, with parameters replaced or added. */
function authorizeUrl(issuer: string, overrides: Readonly<Record<string, string>> = {}): URL {
  const url = new URL('/authorize', issuer);
  const base = {
    response_type: 'code',
    client_id: DEMO.assistant.id,
    redirect_uri: DEMO.assistant.redirectUri,
    scope: 'openid',
    state: STATE,
  };
  for (const [name, value] of Object.entries({ ...base, code_challenge: CHALLENGE, code_challenge_method: 'S256', ...overrides })) {
    url.searchParams.set(name, value);
  }
  return url;
}

/** A browser standing on one page of a sign-in: the page, its URL and its form. */
interface AtStep {
  readonly browser: ScriptedBrowser;
  readonly response: Response;
  readonly html: string;
  /** The interaction page's URL. */
  readonly url: URL;
  readonly action: URL;
  readonly fields: Record<string, string>;
}

/**
 * Opens a sign-in in a fresh browser and walks it to `step`: the login page;
 * the TOTP page (alice's password accepted); the consent page (bob signed in,
 * prompt=consent so it shows whatever was stored before).
 */
async function reach(issuer: string, step: Step, overrides: Readonly<Record<string, string>> = {}): Promise<AtStep> {
  const browser = new ScriptedBrowser(issuer);
  let { response, url } = await browser.follow(authorizeUrl(issuer, step === 'consent' ? { prompt: 'consent', ...overrides } : overrides));
  let html = await response.text();
  if (step !== 'login') {
    const user = step === 'totp' ? DEMO.alice : DEMO.bob;
    const form = readForm(html);
    ({ response, url } = await browser.follow(new URL(form.action, url), {
      form: { ...form.fields, username: user.username, password: user.password },
    }));
    html = await response.text();
  }
  assert.equal(response.status, 200);
  assert.equal(pageKind(html), step);
  const form = readForm(html);
  return { browser, response, html, url, action: new URL(form.action, url), fields: form.fields };
}

/** What the user would type on each page. */
async function input(server: TestIdp, step: Step): Promise<Record<string, string>> {
  if (step === 'login') return { username: DEMO.bob.username, password: DEMO.bob.password };
  if (step === 'totp') return { code: await totpNow(DEMO.alice.totpSecret, server.clock.now()) };
  return { decision: 'allow' };
}

/** A prompt=none request in this browser: the error it ends with, or undefined when it yields a code. */
async function silentOutcome(
  browser: ScriptedBrowser,
  issuer: string,
  overrides: Readonly<Record<string, string>> = {},
): Promise<string | null> {
  const { url } = await browser.follow(authorizeUrl(issuer, { prompt: 'none', ...overrides }));
  assert.equal(url.searchParams.get('iss'), issuer);
  return url.searchParams.get('error');
}

/** A refused form POST: 403, an HTML error page, no redirect, no cookie set. */
async function expectForbidden(response: Response): Promise<void> {
  assert.equal(response.status, 403);
  assert.equal(response.headers.get('location'), null);
  assert.deepEqual(response.headers.getSetCookie(), [], 'no session and no consent cookie');
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  const html = await response.text();
  assert.equal(pageKind(html), 'error');
  assert.match(html, /<h1>Request refused<\/h1>/);
}

interface Forgery {
  readonly form: Record<string, string>;
  readonly headers: Record<string, string>;
}

/** Each S1 attack changes one thing about the genuine form post. */
const ATTACKS: readonly (readonly [string, (fields: Record<string, string>) => Forgery])[] = [
  ['without a CSRF token', ({ csrf: _dropped, ...rest }) => ({ form: rest, headers: {} })],
  ['with a forged CSRF token', (fields) => ({ form: { ...fields, csrf: 'f'.repeat(43) }, headers: {} })],
  ['from a cross-site Origin', (fields) => ({ form: fields, headers: { origin: 'https://evil.example' } })],
  // Origin: null alone is what browsers send on same-origin POSTs under Referrer-Policy: no-referrer; Sec-Fetch-Site decides.
  [
    'from an opaque Origin (null) that is cross-site',
    (fields) => ({ form: fields, headers: { origin: 'null', 'sec-fetch-site': 'cross-site' } }),
  ],
  ['with Sec-Fetch-Site: cross-site', (fields) => ({ form: fields, headers: { 'sec-fetch-site': 'cross-site' } })],
  ['with Sec-Fetch-Site: same-site (a sibling host)', (fields) => ({ form: fields, headers: { 'sec-fetch-site': 'same-site' } })],
];

describe('SECURITY S1: CSRF on the login, TOTP and consent forms (OAuth 2.1 §7.10; BCP §4.7)', () => {
  let server: TestIdp;
  let issuer: string;
  before(async () => {
    server = await startTestIdp({ mutate: allowFrontChannel });
    issuer = server.issuer;
  });
  after(() => server.close());

  for (const step of STEPS) {
    for (const [attack, forge] of ATTACKS) {
      it(`S1: a ${step} POST ${attack} gives 403 and stores nothing (OAuth 2.1 §7.10; BCP §4.7)`, async () => {
        const at = await reach(issuer, step);
        const forged = forge(at.fields);
        await expectForbidden(
          await at.browser.request(at.action, { form: { ...forged.form, ...(await input(server, step)) }, headers: forged.headers }),
        );
        // Nothing stored: the interaction is still on the same page, and the browser is neither signed in nor consented.
        const again = await at.browser.follow(at.url);
        assert.equal(pageKind(await again.response.text()), step);
        assert.equal(at.browser.hasCookie('palisade_session'), step === 'consent');
        assert.equal(await silentOutcome(at.browser, issuer), step === 'consent' ? 'consent_required' : 'login_required');
      });
    }
  }

  for (const step of STEPS) {
    it(`S1 control: the genuine ${step} form, posted as a no-referrer page does (Origin: null, Sec-Fetch-Site: same-origin), gets 303`, async () => {
      server.clock.advance(30); // a fresh TOTP time step: codes are one-time
      const at = await reach(issuer, step, step === 'consent' ? { client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT } : {});
      const response = await at.browser.request(at.action, {
        form: { ...at.fields, ...(await input(server, step)) },
        headers: { origin: 'null', 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(response.status, 303);
    });
  }

  it('S1: a genuine form posted from a browser that did not start the sign-in is refused (login CSRF): 400, not signed in', async () => {
    const attacker = await reach(issuer, 'login');
    const victim = new ScriptedBrowser(issuer);
    const response = await victim.request(attacker.action, { form: { ...attacker.fields, ...(await input(server, 'login')) } });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('location'), null);
    assert.match(await response.text(), /<h1>Sign-in expired<\/h1>/);
    assert.equal(victim.hasCookie('palisade_session'), false);
    assert.equal(await silentOutcome(victim, issuer), 'login_required');
  });

  it('S1: refused cross-site posts with wrong passwords do not count toward the lockout (nothing stored)', async () => {
    const at = await reach(issuer, 'login');
    for (let i = 0; i < server.config.login.max_failures + 1; i++) {
      const response = await at.browser.request(at.action, {
        form: { ...at.fields, username: DEMO.bob.username, password: `guess-${i}` },
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(response.status, 403);
    }
    const genuine = await at.browser.request(at.action, { form: { ...at.fields, ...(await input(server, 'login')) } });
    assert.equal(genuine.status, 303, 'not locked out');
    assert.equal(at.browser.hasCookie('palisade_session'), true);
  });
});

describe('SECURITY S2–S4: framing, per-client consent, client identity (BCP §4.16; OAuth 2.1 §7.9)', () => {
  let server: TestIdp;
  let issuer: string;
  before(async () => {
    server = await startTestIdp({ mutate: allowFrontChannel });
    issuer = server.issuer;
  });
  after(() => server.close());

  function assertNotFramable(response: Response): void {
    const csp = response.headers.get('content-security-policy') ?? '';
    assert.match(csp, /(^|;\s*)frame-ancestors 'none'(;|$)/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
  }

  for (const step of STEPS) {
    it(`S2: the ${step} page cannot be framed: CSP frame-ancestors 'none' and X-Frame-Options: DENY (BCP §4.16)`, async () => {
      const at = await reach(issuer, step);
      assert.match(at.response.headers.get('content-type') ?? '', /^text\/html/);
      assertNotFramable(at.response);
    });
  }

  it('S2: the error page and the 403 page cannot be framed either (BCP §4.16)', async () => {
    const errorPage = await fetch(authorizeUrl(issuer, { client_id: 'no-such-client' }), { redirect: 'manual' });
    assert.equal(errorPage.status, 400);
    assertNotFramable(errorPage);
    const at = await reach(issuer, 'login');
    const refused = await at.browser.request(at.action, { form: { ...at.fields, csrf: 'forged' } });
    assert.equal(refused.status, 403);
    assertNotFramable(refused);
  });

  it('S3: consent given to assistant does not carry over to palisade-cli; consent is asked per client (MCP confused deputy)', async () => {
    const browser = new ScriptedBrowser(issuer);
    const first: string[] = [];
    await authorizeInBrowser(browser, authorizeUrl(issuer, { prompt: 'consent' }), { ...DEMO.bob }, first);
    assert.deepEqual(first, ['login', 'consent']);
    assert.equal(await silentOutcome(browser, issuer), null, 'assistant: consent remembered, a code is issued silently');
    const cli = { client_id: DEMO.cli.id, redirect_uri: CLI_REDIRECT };
    assert.equal(await silentOutcome(browser, issuer, cli), 'consent_required');
    const second: string[] = [];
    const callback = await authorizeInBrowser(browser, authorizeUrl(issuer, cli), { ...DEMO.bob }, second);
    assert.deepEqual(second, ['consent'], 'SSO spares the login, not the consent');
    assert.ok(callback.searchParams.get('code'));
  });

  it('S3: consent to some scopes does not cover a wider request by the same client (OAuth 2.1 §7.9)', async () => {
    const browser = new ScriptedBrowser(issuer);
    await authorizeInBrowser(browser, authorizeUrl(issuer, { prompt: 'consent' }), { ...DEMO.bob });
    assert.equal(await silentOutcome(browser, issuer, { scope: 'openid email' }), 'consent_required');
    assert.equal(await silentOutcome(browser, issuer, { scope: 'openid tools.access', resource: DEMO.gateway }), 'consent_required');
  });

  const IDENTITIES: readonly (readonly [string, string, string])[] = [
    [DEMO.assistant.id, 'Finance assistant', 'http://127.0.0.1:40123/callback'],
    [DEMO.cli.id, 'Palisade CLI', CLI_REDIRECT],
  ];
  for (const step of STEPS) {
    for (const [clientId, name, redirectUri] of IDENTITIES) {
      it(`S4: the ${step} page shows ${clientId}'s registered name, client_id and redirect host, not a requested name (OAuth 2.1 §7.9)`, async () => {
        const spoof = {
          client_name: 'IT Helpdesk (official)',
          logo_uri: 'https://evil.example/logo.png',
          client_uri: 'https://evil.example/',
        };
        const { html } = await reach(issuer, step, { client_id: clientId, redirect_uri: redirectUri, ...spoof });
        assert.ok(html.includes(`<strong>${name}</strong>`), 'registered display name');
        assert.ok(
          html.includes(`<code>client ${clientId} · returns to ${new URL(redirectUri).host}</code>`),
          'client_id and redirect host',
        );
        assert.equal(html.includes('Helpdesk'), false);
        assert.equal(html.includes('evil.example'), false);
      });
    }
  }

  it('extra: a username with markup is reflected escaped on the failed-login page (reflected XSS)', async () => {
    const at = await reach(issuer, 'login');
    const username = '"><script>alert(1)</script>';
    const response = await at.browser.request(at.action, { form: { ...at.fields, username, password: 'wrong' } });
    assert.equal(response.status, 401);
    const html = await response.text();
    assert.equal(html.includes('<script>'), false);
    assert.ok(html.includes('value="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"'));
  });

  it('extra: the interaction link is bound to the browser that opened it (phishing with a shared sign-in link)', async () => {
    const at = await reach(issuer, 'consent');
    const other = new ScriptedBrowser(issuer);
    const { response } = await other.follow(at.url);
    assert.equal(response.status, 400);
    assert.equal(pageKind(await response.text()), 'error');
  });

  it('extra: an interaction is single-use; replaying the consent POST issues no second code (OAuth 2.1 §4.1.2)', async () => {
    const at = await reach(issuer, 'consent');
    const form = { ...at.fields, decision: 'allow' };
    const first = await at.browser.request(at.action, { form });
    assert.equal(first.status, 303);
    assert.ok(new URL(first.headers.get('location') ?? 'about:blank').searchParams.get('code'));
    const replay = await at.browser.request(at.action, { form });
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get('location'), null);
    assert.match(await replay.text(), /<h1>Sign-in expired<\/h1>/);
  });

  it('extra: a login rotates the session cookie, which is HttpOnly and SameSite=Lax (session fixation; BCP §4.7)', async () => {
    const at = await reach(issuer, 'login');
    const root = new URL(issuer);
    const login = async (browser: ScriptedBrowser, action: URL, fields: Record<string, string>) => {
      const response = await browser.request(action, { form: { ...fields, ...(await input(server, 'login')) } });
      const cookie = response.headers.getSetCookie().find((c) => c.startsWith('palisade_session='));
      assert.ok(cookie);
      assert.match(cookie, /; HttpOnly/i);
      assert.match(cookie, /; SameSite=Lax/i);
      return browser.cookieHeader(root);
    };
    const first = await login(at.browser, at.action, at.fields);
    const { response, url } = await at.browser.follow(authorizeUrl(issuer, { prompt: 'login' }));
    const form = readForm(await response.text());
    const afterwards = await login(at.browser, new URL(form.action, url), form.fields);
    assert.notEqual(afterwards, first);
  });
});
