import { InsufficientScope, InvalidRequest, InvalidToken, NotFound, OAuthError } from '@palisade/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { pendingRequests } from '../ciba/decide.js';
import type { IdpContext } from '../context.js';
import { sendBearerError, sendError } from '../http/responses.js';
import { decideOnDevice, type Outcome } from './decision.js';
import { viewOf } from './view.js';

/** The scope a token needs to act as someone's authentication device. */
export const DEVICE_SCOPE = 'device.approve';

/** Outcomes that are not a success, as standard errors. */
const FAILURES: Partial<Record<Outcome, OAuthError>> = {
  code_required: InvalidRequest('a 6-digit code is required to approve'),
  code_invalid: new OAuthError('invalid_grant', 400, 'the code is not valid'),
  locked: new OAuthError('temporarily_unavailable', 429, 'too many failed attempts; wait a few minutes'),
  not_found: NotFound('no such request'),
  already_decided: InvalidRequest('the request was already decided'),
  expired: new OAuthError('expired_token', 400, 'the request expired'),
};

/**
 * The device's JSON API, for other devices (a chat bot, a mobile app): an
 * access token from this IdP for the device resource (`aud` =
 * <issuer>/device, scope `device.approve`, a user's `sub`), obtained through
 * the authorization code flow like any other. The token only lets a device
 * see and answer the user's requests; approving still needs the user's fresh
 * TOTP code, which the device relays and never keeps.
 *
 *   GET  /device/api/requests                  → { requests: [RequestView] }
 *   POST /device/api/requests/{id}/approve     { "code": "123456" } → { status: "approved" }
 *   POST /device/api/requests/{id}/deny        → { status: "denied" }
 */
export function deviceApi(app: FastifyInstance, idp: IdpContext, base: string): void {
  async function authenticate(request: FastifyRequest): Promise<{ sub: string; amr: readonly string[] }> {
    const header = request.headers.authorization;
    const match = header === undefined ? undefined : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match?.[1]) throw new MissingToken();
    const claims = await idp.tokens.verifyAccessToken(match[1]);
    if (![claims.aud].flat().includes(idp.endpoints.device)) throw InvalidToken('the token is not meant for the authentication device');
    if (!idp.realm.usersBySub.has(claims.sub)) throw InvalidToken('the token does not name a user');
    if (!(claims.scope ?? '').split(' ').includes(DEVICE_SCOPE)) throw InsufficientScope(`the ${DEVICE_SCOPE} scope is required`);
    return { sub: claims.sub, amr: Array.isArray(claims.amr) ? claims.amr.map(String) : [] };
  }

  function fail(reply: FastifyReply, error: unknown): FastifyReply {
    if (error instanceof MissingToken) return sendBearerError(reply, undefined);
    if (error instanceof OAuthError && (error.error === 'invalid_token' || error.error === 'insufficient_scope')) {
      return sendBearerError(reply, error);
    }
    return sendError(reply, error);
  }

  app.get(`${base}/requests`, async (request, reply) => {
    const ctx = serving(idp, request);
    try {
      const { sub } = await authenticate(request);
      const requests = (await pendingRequests(ctx, sub)).map((pending) => viewOf(ctx, pending));
      return reply.header('cache-control', 'no-store').send({ requests });
    } catch (error) {
      return fail(reply, error);
    }
  });

  for (const action of ['approve', 'deny'] as const) {
    app.post(`${base}/requests/:rid/${action}`, async (request: FastifyRequest<{ Params: { rid: string } }>, reply) => {
      const ctx = serving(idp, request);
      try {
        const { sub, amr } = await authenticate(request);
        const body = request.body;
        const code =
          body instanceof URLSearchParams
            ? (body.get('code') ?? undefined)
            : typeof (body as { code?: unknown } | null)?.code === 'string'
              ? (body as { code: string }).code
              : undefined;
        const outcome = await decideOnDevice(ctx, reply, { sub, rid: request.params.rid, action, code, amr });
        const failure = FAILURES[outcome];
        if (failure) throw failure;
        return reply.header('cache-control', 'no-store').send({ status: outcome });
      } catch (error) {
        return fail(reply, error);
      }
    });
  }
}

/** No credentials at all: RFC 6750 §3.1's bare challenge. */
class MissingToken extends Error {}
