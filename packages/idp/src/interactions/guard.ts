import { digestEqual, safeEqual, sha256 } from '@palisade/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';
import type { IdpContext } from '../context.js';
import type { Interaction } from './model.js';
import { errorPage } from './pages/templates.js';

export interface LoadedInteraction {
  readonly id: string;
  readonly interaction: Interaction;
}

/** A page answer that ends the request: the error page with its status. */
export function refuse(reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(errorPage(title, message));
}

/**
 * Finds the interaction named in the path and checks that this browser
 * started it (the binding cookie). Returns undefined after answering with an
 * error page.
 */
export async function loadInteraction(
  ctx: IdpContext,
  request: FastifyRequest<{ Params: { id: string } }>,
  reply: FastifyReply,
): Promise<LoadedInteraction | undefined> {
  const { id } = request.params;
  const found = await ctx.store.find<Interaction>('interaction', id);
  const cookie = request.cookies[DEFAULTS.interaction.cookieName];
  if (!found || !cookie || !digestEqual(sha256(cookie), found.value.browserBinding)) {
    refuse(reply, 400, 'Sign-in expired', 'This sign-in request has expired or was started in another browser.');
    return undefined;
  }
  // On another node, or after the cache let it go, a metadata-document client is fetched again before its pages run.
  await ctx.realm.clients.resolve(found.value.request.clientId);
  return { id, interaction: found.value };
}

/**
 * CSRF defence for every form POST (RFC 9700 §4.7, SECURITY S1): the
 * form's token (per interaction, or per session for logout) must match, and a browser-sent Origin or
 * Sec-Fetch-Site must say same-origin. Returns false after answering 403.
 */
export function checkFormPost(ctx: IdpContext, request: FastifyRequest, reply: FastifyReply, expectedCsrf: string): boolean {
  const body = request.body instanceof URLSearchParams ? request.body : undefined;
  const csrf = body?.getAll('csrf');
  const origin = request.headers.origin;
  const fetchSite = request.headers['sec-fetch-site'];
  // Referrer-Policy: no-referrer makes browsers send `Origin: null` on same-origin form POSTs,
  // so null is accepted; Sec-Fetch-Site then tells a same-origin POST from a cross-site one.
  const originOk = origin === undefined || origin === 'null' || origin === new URL(ctx.realm.issuer).origin;
  const siteOk = fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'none';
  const sameOrigin = originOk && siteOk;
  if (!body || csrf?.length !== 1 || !safeEqual(csrf[0] ?? '', expectedCsrf) || !sameOrigin) {
    reply.log.warn({ event: 'interaction.form_refused', origin: originOk, site: siteOk }, 'cross-site or forged form refused');
    ctx.audit.record(
      {
        event: 'form.refused',
        outcome: 'failure',
        reason: !sameOrigin ? 'cross_site' : 'bad_csrf_token',
        data: { path: request.url.split('?')[0] ?? '' },
      },
      ctx.request,
    );
    refuse(reply, 403, 'Request refused', 'This form was not submitted from this sign-in page. Start again from the application.');
    return false;
  }
  return true;
}
