import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { pendingRequests } from '../ciba/decide.js';
import { DEVICE_APP } from '../console/app.js';
import { currentConsole } from '../console/session.js';
import { consolePage, consoleSignIn, showSignIn } from '../console/signin.js';
import { type IdpContext, PATHS } from '../context.js';
import { checkFormPost } from '../interactions/guard.js';
import { deviceApi } from './api.js';
import { decideOnDevice, OUTCOME_TEXT, type Outcome } from './decision.js';
import { deviceEvents } from './events.js';
import { deviceHomePage } from './pages.js';
import { DEVICE_SCRIPT } from './script.js';
import { viewOf } from './view.js';

/** The device page runs its one script and opens its event stream, both from this origin only. */
const DEVICE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const page = (reply: FastifyReply, body: string, status = 200) => consolePage(reply, body, status, DEVICE_CSP);

const backHome = (reply: FastifyReply, outcome?: Outcome) =>
  reply.redirect(outcome ? `${PATHS.device}?notice=${outcome}` : PATHS.device, 303);

type RequestAction = FastifyRequest<{ Params: { rid: string } }>;

/**
 * The authentication device (CIBA §5: "the user's authentication device"):
 * a mobile-friendly page where a user signs in once (password, then TOTP)
 * and stays signed in, sees approval requests arrive live, approves with a
 * fresh code or denies with one tap. The same actions are a JSON API
 * (./api.ts) for devices built elsewhere.
 */
export function deviceRoutes(app: FastifyInstance, idp: IdpContext): void {
  const base = PATHS.device;
  app.get('/assets/device.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(DEVICE_SCRIPT),
  );

  app.get(base, async (request: FastifyRequest<{ Querystring: { notice?: string } }>, reply) => {
    const ctx = serving(idp, request);
    const device = await currentConsole(ctx, DEVICE_APP, request);
    if (device) {
      const user = ctx.realm.usersBySub.get(device.sub);
      const notice = request.query.notice;
      const requests = (await pendingRequests(ctx, device.sub)).map((pending) => viewOf(ctx, pending));
      return page(
        reply,
        deviceHomePage({
          csrf: device.csrf,
          username: user?.username ?? device.sub,
          ...(notice !== undefined && Object.hasOwn(OUTCOME_TEXT, notice) ? { notice: OUTCOME_TEXT[notice as Outcome] } : {}),
          requests,
        }),
      );
    }
    return showSignIn(ctx, DEVICE_APP, request, reply, DEVICE_CSP);
  });

  consoleSignIn(app, idp, DEVICE_APP, DEVICE_CSP);

  for (const action of ['approve', 'deny'] as const) {
    app.post(`${base}/requests/:rid/${action}`, async (request: RequestAction, reply) => {
      const ctx = serving(idp, request);
      const device = await currentConsole(ctx, DEVICE_APP, request);
      if (!device) return backHome(reply);
      if (!checkFormPost(ctx, request, reply, device.csrf)) return reply;
      const code = (request.body as URLSearchParams).get('code') ?? undefined;
      const outcome = await decideOnDevice(ctx, reply, { sub: device.sub, rid: request.params.rid, action, code, amr: device.amr });
      return backHome(reply, outcome);
    });
  }

  deviceEvents(app, idp, `${base}/events`);
  deviceApi(app, idp, `${base}/api`);
}
