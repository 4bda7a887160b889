import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { ScriptedBrowser, totpNow } from './browser.js';
import { basic, type Form, post, type Reply } from './http.js';
import { type ConfigDocument, DEMO, startTestIdp, type TestIdp, type TestIdpOptions } from './idp.js';

export const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

/** The demo's CIBA clients (examples/demo/palisade.yaml). */
export const CIBA = {
  poll: { id: DEMO.assistant.id, secret: DEMO.assistant.secret },
  ping: { id: DEMO.mcpGateway.id, secret: DEMO.mcpGateway.secret },
  push: { id: 'mcp-gateway-push', secret: 'mcp-gateway-push-secret' },
} as const;

/** One notification as the receiver saw it. */
export interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/**
 * A client's notification endpoint on loopback (CIBA §10.2, §10.3): records
 * every POST and answers with the next scripted status (204 once the script
 * runs out). `next()` waits for the next notification.
 */
export class NotificationReceiver {
  readonly received: Received[] = [];
  readonly #server: Server;
  readonly #waiting: ((received: Received) => void)[] = [];
  #script: number[] = [];
  #seen = 0;
  url = '';

  constructor() {
    this.#server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        const received: Received = { path: request.url ?? '', headers: request.headers, body: body ? JSON.parse(body) : {} };
        this.received.push(received);
        const status = this.#script.shift() ?? 204;
        if (status >= 300 && status < 400) response.setHeader('location', `${this.url}/elsewhere`);
        response.writeHead(status).end();
        this.#waiting.shift()?.(received);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return this;
  }

  /** Forgets what was received and scripted (between tests sharing one receiver). */
  reset(): void {
    this.received.length = 0;
    this.#seen = 0;
    this.#script = [];
  }

  /** Statuses to answer with, in order. */
  respondWith(...statuses: number[]): void {
    this.#script = statuses;
  }

  /** The next notification not yet returned by next(). */
  next(timeoutMs = 8000): Promise<Received> {
    const index = this.#seen++;
    const ready = this.received[index];
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no notification arrived')), timeoutMs);
      this.#waiting.push(() => {
        clearTimeout(timer);
        resolve(this.received[index] as Received);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * The demo realm with a 1 s CIBA interval (openid-client waits it before the
 * first poll) and the ping and push clients' endpoints on a loopback receiver.
 */
export async function startCibaIdp(receiver: NotificationReceiver, options: TestIdpOptions = {}): Promise<TestIdp> {
  return startTestIdp({
    ...options,
    mutate(document: ConfigDocument) {
      document.ciba = { ...(document.ciba as object), interval: 1 };
      for (const client of document.clients) {
        if (client.client_id === CIBA.ping.id) client.backchannel_client_notification_endpoint = `${receiver.url}/ping`;
        if (client.client_id === CIBA.push.id) client.backchannel_client_notification_endpoint = `${receiver.url}/push`;
      }
      options.mutate?.(document);
    },
  });
}

/** A backchannel authentication request as a client sends it (client_secret_basic). */
export function backchannelRequest(server: TestIdp, client: { id: string; secret: string }, form: Form): Promise<Reply> {
  return post(`${server.issuer}/bc-authorize`, form, basic(client.id, client.secret));
}

/** A CIBA token request (poll, or the redemption after a ping). */
export function redeem(server: TestIdp, client: { id: string; secret: string }, authReqId: string): Promise<Reply> {
  return post(`${server.issuer}/token`, { grant_type: CIBA_GRANT, auth_req_id: authReqId }, basic(client.id, client.secret));
}

/** A payment the demo's payment_initiation type accepts. */
export const PAYMENT = {
  type: 'payment_initiation',
  locations: ['http://127.0.0.1:9412'],
  actions: ['initiate'],
  instructedAmount: { currency: 'EUR', amount: '50000.00' },
  creditorName: 'Acme Supplies GmbH',
  creditorAccount: { iban: 'DE89370400440532013000' },
} as const;

export interface PendingView {
  readonly id: string;
  readonly headlines: string[];
  readonly binding_message: string | null;
  readonly needs_code: boolean;
  readonly client: { id: string; name: string };
}

/**
 * The authentication device driven over HTTP like a phone's browser: signs
 * in (password, then TOTP), reads the live event stream, approves or denies
 * through the page's forms.
 */
export class Device {
  readonly browser: ScriptedBrowser;
  readonly #server: Pick<TestIdp, 'issuer' | 'clock'>;
  #csrf = '';

  /**
   * `server.issuer` is where this device talks to: any node of a cluster.
   * `publicOrigin` is the origin the browser believes it is on (the load
   * balancer's, i.e. the issuer's), which its form posts carry as Origin.
   */
  constructor(server: Pick<TestIdp, 'issuer' | 'clock'>, publicOrigin = server.issuer) {
    this.#server = server;
    this.browser = new ScriptedBrowser(publicOrigin);
  }

  get url(): string {
    return `${this.#server.issuer}/device`;
  }

  /** Signs in as alice (TOTP) or bob; moves the IdP clock past the last TOTP step first (codes are single-use). */
  async signIn(user: 'alice' | 'bob' = 'alice'): Promise<void> {
    const page = await (await this.browser.request(this.url)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const credentials = DEMO[user];
    let response = await this.browser.request(`${this.url}/login`, {
      form: { csrf, username: credentials.username, password: credentials.password },
    });
    if (user === 'alice') {
      this.#server.clock.advance(30);
      const code = await totpNow(DEMO.alice.totpSecret, this.#server.clock.now());
      response = await this.browser.request(`${this.url}/totp`, { form: { csrf, code } });
    }
    if (response.status !== 303) throw new Error(`device sign-in failed: ${response.status} ${await response.text()}`);
    const home = await (await this.browser.request(this.url)).text();
    this.#csrf = /<meta name="palisade-csrf" content="([^"]+)"/.exec(home)?.[1] ?? '';
    if (!this.#csrf) throw new Error('the device page did not sign in');
  }

  /** The first `requests` event on the device's stream with at least `count` entries. */
  async pending(count = 1, timeoutMs = 8000): Promise<PendingView[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`${this.url}/events`, {
        headers: { cookie: this.browser.cookieHeader(new URL(`${this.url}/events`)) },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) throw new Error(`event stream refused: ${response.status}`);
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += Buffer.from(chunk).toString();
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(event)?.[1];
          if (event.startsWith('event: requests') && data) {
            const list = JSON.parse(data) as PendingView[];
            if (list.length >= count) return list;
          }
          end = buffer.indexOf('\n\n');
        }
      }
      throw new Error('event stream ended');
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /**
   * Approves with a fresh TOTP code (the clock moves one step, so the code
   * is new), or with exactly `code`, the clock left alone; returns the notice.
   */
  async approve(rid: string, options: { code?: string } = {}): Promise<string> {
    if (options.code !== undefined) return this.#act(rid, 'approve', { code: options.code });
    this.#server.clock.advance(30);
    return this.#act(rid, 'approve', { code: await totpNow(DEMO.alice.totpSecret, this.#server.clock.now()) });
  }

  deny(rid: string): Promise<string> {
    return this.#act(rid, 'deny', {});
  }

  async #act(rid: string, action: string, fields: Record<string, string>): Promise<string> {
    const response = await this.browser.request(`${this.url}/requests/${rid}/${action}`, { form: { csrf: this.#csrf, ...fields } });
    if (response.status !== 303) throw new Error(`device ${action} answered ${response.status}`);
    return new URL(response.headers.get('location') ?? '', this.url).searchParams.get('notice') ?? '';
  }
}
