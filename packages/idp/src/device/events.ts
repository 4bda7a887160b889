import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { pendingRequests } from '../ciba/decide.js';
import { DEVICE_APP } from '../console/app.js';
import { currentConsole } from '../console/session.js';
import type { IdpContext } from '../context.js';
import { viewOf } from './view.js';

/** How often a stream re-reads the store: requests made on other nodes, and expiry, show up within this. */
const REFRESH_MS = 2000;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

/**
 * The device's live feed (server-sent events, HTML Living Standard §9.2):
 * an event `requests` with the whole pending list whenever it changes, at
 * once for changes on this node and within REFRESH_MS for the rest. The
 * stream ends when the device is signed out or the server closes.
 */
export function deviceEvents(app: FastifyInstance, idp: IdpContext, path: string): void {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(path, async (request: FastifyRequest, reply: FastifyReply) => {
    const ctx = serving(idp, request);
    const device = await currentConsole(ctx, DEVICE_APP, request);
    if (!device)
      return reply.code(401).type('application/json').send({ error: 'login_required', error_description: 'sign in on /device first' });
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    });
    let last = '';
    let sending = Promise.resolve();
    let ended = false;
    const send = () => {
      sending = sending
        .then(async () => {
          if (ended) return;
          if (!(await currentConsole(ctx, DEVICE_APP, request))) return end();
          const data = JSON.stringify((await pendingRequests(ctx, device.sub)).map((pending) => viewOf(ctx, pending)));
          if (data !== last && !ended) {
            last = data;
            raw.write(`event: requests\ndata: ${data}\n\n`);
          }
        })
        .catch((error: unknown) => ctx.log.error({ err: String(error) }, 'device stream update failed'));
    };
    const unsubscribe = ctx.backchannel.subscribe(device.sub, send);
    const refresh = setInterval(send, REFRESH_MS);
    const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
    function end() {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(refresh);
      clearInterval(heartbeat);
      open.delete(end);
      raw.end();
    }
    open.add(end);
    request.raw.on('close', end);
    send();
  });
}
