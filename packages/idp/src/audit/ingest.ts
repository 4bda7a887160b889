import { AUDIT_EVENTS, type AuditEvent, type AuditEventName } from '@palisade/audit';
import { InsufficientScope, InvalidRequest, InvalidToken, toOAuthError } from '@palisade/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { serving } from '../audit/context.js';
import type { IdpContext } from '../context.js';
import { noStore, sendBearerError, sendError } from '../http/responses.js';

/** The scope a component's token needs to write to the trail. */
export const AUDIT_WRITE_SCOPE = 'audit.write';
export const AUDIT_PATH = '/audit/events';
const MAX_EVENTS = 100;

const text = (max: number) => z.string().min(1).max(max);
const eventNames = Object.keys(AUDIT_EVENTS) as [AuditEventName, ...AuditEventName[]];
const dataValue = z.union([text(2048), z.number().finite(), z.boolean(), z.array(text(512)).max(64)]);

/** What a component may say; the IdP adds who said it (`reporter`). Unknown fields are refused. */
const ingestedEvent = z.strictObject({
  id: z.uuid(),
  time: z.iso.datetime({ offset: false }),
  component: z.string().regex(/^[a-z][a-z0-9:_.-]{0,63}$/),
  event: z.enum(eventNames),
  outcome: z.enum(['success', 'failure']),
  reason: text(256).optional(),
  trace_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/)
    .optional(),
  sub: text(256).optional(),
  client: text(256).optional(),
  act: z.record(z.string(), z.unknown()).optional(),
  jti: text(256).optional(),
  derived_from: text(256).optional(),
  authorization_details: z.array(z.record(z.string(), z.unknown())).max(16).optional(),
  data: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), dataValue).optional(),
});

const body = z.strictObject({ events: z.array(z.unknown()).min(1).max(MAX_EVENTS) });

/**
 * Components in other processes (the gateway, the tools) write to the same
 * chain through `POST /audit/events`, with an access token from this IdP for
 * the audit resource (`<issuer>/audit`, scope `audit.write`), obtained by
 * client credentials. Each event is checked against the catalogue; the
 * authenticated client is recorded as its `reporter`, whatever the event
 * claims. An event id seen before is acknowledged and not appended again,
 * so a sender that retries after a lost answer creates no duplicates.
 */
export function auditIngestion(app: FastifyInstance, idp: IdpContext): void {
  const audience = `${idp.realm.issuer.replace(/\/$/, '')}/audit`;
  const reporters = new WeakMap<FastifyRequest, string>();
  app.post(
    AUDIT_PATH,
    {
      // Up to 100 events; the token is checked before a byte of the body is parsed.
      bodyLimit: 1024 * 1024,
      onRequest: async (request, reply) => {
        try {
          const header = request.headers.authorization;
          const match = header === undefined ? undefined : /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
          if (!match?.[1]) return sendBearerError(reply, undefined);
          const claims = await idp.tokens.verifyAccessToken(match[1]);
          if (![claims.aud].flat().includes(audience)) throw InvalidToken('the token is not meant for the audit trail');
          if (!(claims.scope ?? '').split(' ').includes(AUDIT_WRITE_SCOPE))
            throw InsufficientScope(`the ${AUDIT_WRITE_SCOPE} scope is required`);
          reporters.set(request, claims.client_id);
        } catch (error) {
          return sendBearerError(reply, toOAuthError(error));
        }
        return undefined;
      },
    },
    async (request, reply) => {
      const ctx = serving(idp, request);
      const reporter = reporters.get(request);
      if (reporter === undefined) return sendBearerError(reply, undefined);
      try {
        const parsed = body.safeParse(request.body);
        if (!parsed.success) throw InvalidRequest(`send {"events": [...]} with 1 to ${MAX_EVENTS} events`);
        const events = parsed.data.events.map((raw, i) => {
          const event = ingestedEvent.safeParse(raw);
          if (!event.success)
            throw InvalidRequest(`events[${i}] is not a valid audit event (${event.error.issues[0]?.path.join('.') ?? 'shape'})`);
          // Only this IdP speaks as the IdP or its CLI; a component names itself otherwise (the reporter says who it really was).
          if (event.data.component === 'idp' || event.data.component === 'cli') throw InvalidRequest(`events[${i}].component is reserved`);
          return event.data;
        });
        let duplicates = 0;
        for (const event of events) {
          // Seen ids are remembered for a day: far longer than any sender retries.
          if (!(await ctx.store.insert('replay', `audit:${event.id}`, {}, { expiresAt: ctx.clock.now() + 86_400 }))) {
            duplicates++;
            continue;
          }
          ctx.audit.append({ ...(event as AuditEvent), reporter });
        }
        await ctx.audit.flush();
        return noStore(reply)
          .code(202)
          .send({ accepted: events.length - duplicates, duplicates });
      } catch (error) {
        return sendError(reply, error);
      }
    },
  );
}
