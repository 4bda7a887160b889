import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { type IdpContext, PATHS } from '../context.js';
import { handleConsent } from './consent.js';
import type { LoadedInteraction } from './guard.js';
import { checkFormPost, loadInteraction } from './guard.js';
import { handleLogin } from './login.js';
import { STYLESHEET } from './pages/stylesheet.js';
import { consentPage, loginPage, totpPage } from './pages/templates.js';
import { interactionPath, needsLogin } from './resume.js';
import { currentSession } from './session.js';
import { handleTotp } from './totp.js';

type InteractionRequest = FastifyRequest<{ Params: { id: string } }>;
type Step = (ctx: IdpContext, request: InteractionRequest, reply: FastifyReply, loaded: LoadedInteraction) => Promise<FastifyReply>;

/** The page this interaction needs now: TOTP if a password was accepted, login if no usable session, else consent. */
async function showPage(ctx: IdpContext, request: InteractionRequest, reply: FastifyReply, { id, interaction }: LoadedInteraction) {
  const client = ctx.realm.clients.get(interaction.request.clientId);
  if (!client) return reply.code(400).send();
  const common = { action: '', csrf: interaction.csrf, client, redirectUri: interaction.request.redirectUri };
  const page = (body: string) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  if (interaction.pendingSub) return page(totpPage({ ...common, action: `${interactionPath(id)}/totp` }));
  const session = await currentSession(ctx, request);
  if (!session || needsLogin(ctx, interaction, session)) return page(loginPage({ ...common, action: `${interactionPath(id)}/login` }));
  const user = ctx.realm.usersBySub.get(session.sub);
  return page(
    consentPage({
      ...common,
      action: `${interactionPath(id)}/consent`,
      username: user?.username ?? session.sub,
      scope: interaction.request.scope,
      resource: interaction.request.resource ? ctx.realm.resourceServers.get(interaction.request.resource) : undefined,
      details: (interaction.request.authorizationDetails ?? []).map((detail) => ctx.realm.detailTypes.describe(detail)),
    }),
  );
}

/** Every POST step runs behind the same checks: the interaction is live, bound to this browser, and the form is genuine. */
function formStep(idp: IdpContext, step: Step) {
  return async (request: InteractionRequest, reply: FastifyReply) => {
    const ctx = serving(idp, request);
    const loaded = await loadInteraction(ctx, request, reply);
    if (!loaded) return reply;
    if (!checkFormPost(ctx, request, reply, loaded.interaction.csrf)) return reply;
    return step(ctx, request, reply, loaded);
  };
}

export function interactionRoutes(app: FastifyInstance, idp: IdpContext): void {
  app.get('/assets/palisade.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );
  app.get(`${PATHS.interaction}/:id`, async (request: InteractionRequest, reply) => {
    const ctx = serving(idp, request);
    const loaded = await loadInteraction(ctx, request, reply);
    return loaded ? showPage(ctx, request, reply, loaded) : reply;
  });
  app.post(`${PATHS.interaction}/:id/login`, formStep(idp, handleLogin));
  app.post(`${PATHS.interaction}/:id/totp`, formStep(idp, handleTotp));
  app.post(`${PATHS.interaction}/:id/consent`, formStep(idp, handleConsent));
}
