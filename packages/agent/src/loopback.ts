import { createServer, type Server } from 'node:http';
import { MisuseError } from './errors.js';

const PAGE = '<!doctype html><meta charset="utf-8"><title>Signed in</title><p>You can close this window and go back to the terminal.</p>';

/**
 * The redirect target of a native app (RFC 8252 §7.3): an http listener on
 * the loopback IP and a random port, for exactly one callback, then closed.
 */
export class LoopbackRedirect {
  private constructor(
    readonly server: Server,
    readonly redirectUri: string,
    readonly callback: Promise<URL>,
    readonly close: () => void,
  ) {}

  static async start(options: { path?: string; timeoutSeconds?: number } = {}): Promise<LoopbackRedirect> {
    const path = options.path ?? '/callback';
    let settle: { resolve: (url: URL) => void; reject: (error: Error) => void } | undefined;
    const callback = new Promise<URL>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', `http://${request.headers.host ?? '127.0.0.1'}`);
      if (request.method !== 'GET' || url.pathname !== path) {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(PAGE);
      settle?.resolve(url);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const timer = setTimeout(
      () => settle?.reject(new MisuseError('login_timeout', 'nobody completed the sign-in in the browser in time')),
      (options.timeoutSeconds ?? 300) * 1000,
    );
    const close = () => {
      clearTimeout(timer);
      server.close();
    };
    const done = callback.finally(close);
    done.catch(() => undefined);
    return new LoopbackRedirect(server, `http://127.0.0.1:${port}${path}`, done, close);
  }
}
