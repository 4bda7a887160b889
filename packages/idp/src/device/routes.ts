import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pendingRequests } from '../ciba/decide.js';
import { type IdpContext, PATHS } from '../context.js';
import { checkPassword, checkTotp, REFUSALS, typedCode } from '../interactions/credentials.js';
import { checkFormPost } from '../interactions/guard.js';
import { deviceApi } from './api.js';
import { decideOnDevice, OUTCOME_TEXT, type Outcome } from './decision.js';
import { deviceEvents } from './events.js';
import { deviceHomePage, deviceLoginPage, deviceTotpPage } from './pages.js';
import { DEVICE_SCRIPT } from './script.js';
import { currentDevice, deviceLogin, endDevice, startDevice, updateLogin } from './session.js';
import { viewOf } from './view.js';

/** The device page runs its one script and opens its event stream, both from this origin only. */
const DEVICE_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function page(reply: FastifyReply, body: string, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', DEVICE_CSP)
    .send(body);
}

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
export function deviceRoutes(app: FastifyInstance, ctx: IdpContext): void {
  const base = PATHS.device;
  app.get('/assets/device.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(DEVICE_SCRIPT),
  );

  app.get(base, async (request: FastifyRequest<{ Querystring: { notice?: string } }>, reply) => {
    const device = await currentDevice(ctx, request);
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
    const login = await deviceLogin(ctx, request, reply, true);
    if (!login) return backHome(reply);
    return page(reply, login.login.pendingSub ? deviceTotpPage({ csrf: login.login.csrf }) : deviceLoginPage({ csrf: login.login.csrf }));
  });

  app.post(`${base}/login`, async (request, reply) => {
    const login = await deviceLogin(ctx, request, reply, false);
    if (!login) return backHome(reply);
    if (!checkFormPost(ctx, request, reply, login.login.csrf)) return reply;
    const body = request.body as URLSearchParams;
    const username = (body.get('username') ?? '').trim();
    const password = body.get('password') ?? '';
    const retry = (status: number, error: string) => page(reply, deviceLoginPage({ csrf: login.login.csrf, error, username }), status);
    if (username === '' || password === '' || username.length > 256 || password.length > 1024) {
      return retry(400, 'Enter your username and password.');
    }
    const checked = await checkPassword(ctx, reply, username, password);
    if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].password);
    const user = checked.value;
    if (user.totpSecret) {
      await updateLogin(ctx, login.key, { ...login.login, pendingSub: user.sub });
      return backHome(reply);
    }
    await startDevice(ctx, request, reply, { sub: user.sub, authTime: ctx.clock.now(), amr: ['pwd'] });
    return backHome(reply);
  });

  app.post(`${base}/totp`, async (request, reply) => {
    const login = await deviceLogin(ctx, request, reply, false);
    const user = login?.login.pendingSub ? ctx.realm.usersBySub.get(login.login.pendingSub) : undefined;
    if (!login || !user) return backHome(reply);
    if (!checkFormPost(ctx, request, reply, login.login.csrf)) return reply;
    const retry = (status: number, error: string) => page(reply, deviceTotpPage({ csrf: login.login.csrf, error }), status);
    const code = typedCode((request.body as URLSearchParams).get('code'));
    if (code === undefined) return retry(400, 'Enter the 6-digit code.');
    const checked = await checkTotp(ctx, reply, user, code);
    if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].totp);
    await startDevice(ctx, request, reply, { sub: user.sub, authTime: ctx.clock.now(), amr: ['pwd', 'otp', 'mfa'] });
    return backHome(reply);
  });

  app.post(`${base}/logout`, async (request, reply) => {
    const device = await currentDevice(ctx, request);
    if (!device) return backHome(reply);
    if (!checkFormPost(ctx, request, reply, device.csrf)) return reply;
    await endDevice(ctx, request, reply);
    ctx.audit.record({ event: 'user.signed_out', outcome: 'success', sub: device.sub, data: { app: 'device' } });
    return backHome(reply);
  });

  for (const action of ['approve', 'deny'] as const) {
    app.post(`${base}/requests/:rid/${action}`, async (request: RequestAction, reply) => {
      const device = await currentDevice(ctx, request);
      if (!device) return backHome(reply);
      if (!checkFormPost(ctx, request, reply, device.csrf)) return reply;
      const code = (request.body as URLSearchParams).get('code') ?? undefined;
      const outcome = await decideOnDevice(ctx, reply, { sub: device.sub, rid: request.params.rid, action, code, amr: device.amr });
      return backHome(reply, outcome);
    });
  }

  deviceEvents(app, ctx, `${base}/events`);
  deviceApi(app, ctx, `${base}/api`);
}
