import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import type { IdpContext } from '../context.js';
import { checkPassword, checkTotp, REFUSALS, typedCode } from '../interactions/credentials.js';
import { checkFormPost } from '../interactions/guard.js';
import type { ConsoleApp } from './app.js';
import { consoleLoginPage, consoleTotpPage } from './pages.js';
import { consoleLogin, currentConsole, endConsole, startConsole, updateLogin } from './session.js';

/** Every page of a console app answers with no-store and may set its own CSP (the device runs a script). */
export function consolePage(reply: FastifyReply, body: string, status = 200, csp?: string): FastifyReply {
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store');
  if (csp) reply.header('content-security-policy', csp);
  return reply.send(body);
}

/** The sign-in page a console app shows when nobody is signed in (password, then TOTP for users who have it). */
export async function showSignIn(ctx: IdpContext, app: ConsoleApp, request: FastifyRequest, reply: FastifyReply, csp?: string) {
  const login = await consoleLogin(ctx, app, request, reply, true);
  if (!login) return reply.redirect(app.path, 303);
  const page = login.login.pendingSub
    ? consoleTotpPage(app, { csrf: login.login.csrf })
    : consoleLoginPage(app, { csrf: login.login.csrf });
  return consolePage(reply, page, 200, csp);
}

/**
 * The sign-in and sign-out steps of a console app: the same password and
 * TOTP checks as the authorization flow's pages (lockout, replay), the same
 * CSRF and Origin checks, a session of the app's own.
 */
export function consoleSignIn(server: FastifyInstance, idp: IdpContext, app: ConsoleApp, csp?: string): void {
  const home = (reply: FastifyReply) => reply.redirect(app.path, 303);

  server.post(`${app.path}/login`, async (request, reply) => {
    const ctx = serving(idp, request);
    const login = await consoleLogin(ctx, app, request, reply, false);
    if (!login) return home(reply);
    if (!checkFormPost(ctx, request, reply, login.login.csrf)) return reply;
    const body = request.body as URLSearchParams;
    const username = (body.get('username') ?? '').trim();
    const password = body.get('password') ?? '';
    const retry = (status: number, error: string) =>
      consolePage(reply, consoleLoginPage(app, { csrf: login.login.csrf, error, username }), status, csp);
    if (username === '' || password === '' || username.length > 256 || password.length > 1024) {
      return retry(400, 'Enter your username and password.');
    }
    const checked = await checkPassword(ctx, reply, username, password);
    if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].password);
    const user = checked.value;
    if (user.totpSecret) {
      await updateLogin(ctx, login.key, { ...login.login, pendingSub: user.sub });
      return home(reply);
    }
    await startConsole(ctx, app, request, reply, { sub: user.sub, authTime: ctx.clock.now(), amr: ['pwd'] });
    return home(reply);
  });

  server.post(`${app.path}/totp`, async (request, reply) => {
    const ctx = serving(idp, request);
    const login = await consoleLogin(ctx, app, request, reply, false);
    const user = login?.login.pendingSub ? ctx.realm.usersBySub.get(login.login.pendingSub) : undefined;
    if (!login || !user) return home(reply);
    if (!checkFormPost(ctx, request, reply, login.login.csrf)) return reply;
    const retry = (status: number, error: string) =>
      consolePage(reply, consoleTotpPage(app, { csrf: login.login.csrf, error }), status, csp);
    const code = typedCode((request.body as URLSearchParams).get('code'));
    if (code === undefined) return retry(400, 'Enter the 6-digit code.');
    const checked = await checkTotp(ctx, reply, user, code);
    if (!checked.ok) return retry(checked.reason === 'locked' ? 429 : 401, REFUSALS[checked.reason].totp);
    await startConsole(ctx, app, request, reply, { sub: user.sub, authTime: ctx.clock.now(), amr: ['pwd', 'otp', 'mfa'] });
    return home(reply);
  });

  server.post(`${app.path}/logout`, async (request, reply) => {
    const ctx = serving(idp, request);
    const session = await currentConsole(ctx, app, request);
    if (!session) return home(reply);
    if (!checkFormPost(ctx, request, reply, session.csrf)) return reply;
    await endConsole(ctx, app, request, reply);
    ctx.audit.record({ event: 'user.signed_out', outcome: 'success', sub: session.sub, data: { app: app.name } }, ctx.request);
    return home(reply);
  });
}
