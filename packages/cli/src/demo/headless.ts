// The IdP's sign-in pages driven without a browser: for `palisade demo --headless` and for the tests.
import { generate } from 'otplib';

/**
 * A scripted browser for the login pages: follows redirects by hand, keeps
 * cookies per path like a browser, fills the forms it is shown. It stops at
 * the first redirect that leaves the IdP (the client's redirect_uri).
 */
export class ScriptedBrowser {
  readonly #cookies = new Map<string, { value: string; path: string }>();
  readonly #origin: string;
  /** Every response seen, for header assertions. */
  readonly responses: Response[] = [];

  constructor(issuer: string) {
    this.#origin = new URL(issuer).origin;
  }

  cookieHeader(url: URL): string {
    return [...this.#cookies.entries()]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  hasCookie(name: string): boolean {
    return this.#cookies.has(name);
  }

  async request(
    url: string | URL,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin ??= this.#origin;
      body = new URLSearchParams(init.form).toString();
    }
    const response = await fetch(target, {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      redirect: 'manual',
      ...(body !== undefined ? { body } : {}),
    });
    this.responses.push(response);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = (pair ?? '').split('=');
      const path =
        attributes
          .map((a) => a.trim())
          .find((a) => a.toLowerCase().startsWith('path='))
          ?.slice(5) ?? '/';
      const maxAge = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('max-age='));
      if (name && maxAge === 'Max-Age=0') this.#cookies.delete(name.trim());
      else if (name) this.#cookies.set(name.trim(), { value: value.join('='), path });
    }
    return response;
  }

  /** Follows redirects within the IdP; returns the last response (a page, or a redirect leaving the IdP). */
  async follow(url: string | URL, init: { form?: Record<string, string> } = {}): Promise<{ response: Response; url: URL }> {
    let current = new URL(url);
    let response = await this.request(current, init);
    while (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location') ?? '', current);
      if (next.origin !== this.#origin) return { response, url: next };
      current = next;
      response = await this.request(current);
    }
    return { response, url: current };
  }
}

export interface PageForm {
  readonly action: string;
  readonly fields: Record<string, string>;
}

/** The first form of an HTML page: its action and hidden inputs. */
export function readForm(html: string): PageForm {
  const action = /<form method="post" action="([^"]*)"/.exec(html)?.[1];
  if (action === undefined) throw new Error(`no form on the page: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g))
    fields[match[1] as string] = match[2] as string;
  return { action, fields };
}

export function pageKind(html: string): 'login' | 'totp' | 'consent' | 'error' {
  if (html.includes('name="password"')) return 'login';
  if (html.includes('name="code"')) return 'totp';
  if (html.includes('name="decision"')) return 'consent';
  return 'error';
}

export async function totpNow(secret: string, epoch: number): Promise<string> {
  return generate({ secret, epoch });
}

export interface LoginScript {
  readonly username: string;
  readonly password: string;
  readonly totpSecret?: string;
  /** Seconds since the epoch, for the TOTP code (the IdP's clock). */
  readonly now?: number;
  readonly consent?: 'allow' | 'deny';
}

/**
 * Walks an authorization URL through whatever pages the IdP shows (login,
 * TOTP, consent) and returns the URL the IdP finally redirects to.
 */
export async function authorizeInBrowser(
  browser: ScriptedBrowser,
  authorizationUrl: URL | string,
  script: LoginScript,
  seen: string[] = [],
): Promise<URL> {
  let { response, url } = await browser.follow(authorizationUrl);
  let lastAlert = '';
  for (let step = 0; step < 5; step++) {
    if (response.status >= 300 && response.status < 400) return url;
    const html = await response.text();
    lastAlert = /role="alert">([^<]*)</.exec(html)?.[1] ?? '';
    const kind = pageKind(html);
    seen.push(kind);
    const form = readForm(html);
    const action = new URL(form.action, url);
    if (kind === 'login')
      ({ response, url } = await browser.follow(action, {
        form: { ...form.fields, username: script.username, password: script.password },
      }));
    else if (kind === 'totp') {
      const code = await totpNow(script.totpSecret ?? '', script.now ?? Math.floor(Date.now() / 1000));
      ({ response, url } = await browser.follow(action, { form: { ...form.fields, code } }));
    } else if (kind === 'consent')
      ({ response, url } = await browser.follow(action, { form: { ...form.fields, decision: script.consent ?? 'allow' } }));
    else throw new Error(`unexpected page (${response.status}): ${html.slice(0, 300)}`);
  }
  throw new Error(`too many steps: ${seen.join(' → ')}; last alert: ${lastAlert}`);
}
