import { randomUUID } from 'node:crypto';
import { InvalidRequest, OAuthError } from '@palisade/core';
import { requireDetail, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ToolOptions } from './files.js';

export interface PaymentsOptions extends ToolOptions {
  /** Transfers above this (EUR) need a fresh approval on the user's device (demo: 10,000). */
  readonly approvalThreshold?: number;
}

/** RFC 9470 §3: the caller must come back with a stronger, fresher authentication. */
export const APPROVAL_ACR = 'urn:palisade:acr:ciba';
const APPROVAL_MAX_AGE = 300;

interface Transfer {
  instructedAmount: { currency: string; amount: string };
  creditorName: string;
  creditorAccount: { iban: string };
  remittanceInformationUnstructured?: string;
}

function readTransfer(body: unknown): Transfer {
  const t = body as Partial<Transfer> | null;
  const ok =
    t !== null &&
    typeof t === 'object' &&
    typeof t.instructedAmount?.currency === 'string' &&
    /^[A-Z]{3}$/.test(t.instructedAmount.currency) &&
    typeof t.instructedAmount.amount === 'string' &&
    /^[0-9]{1,12}(\.[0-9]{1,2})?$/.test(t.instructedAmount.amount) &&
    typeof t.creditorName === 'string' &&
    typeof t.creditorAccount?.iban === 'string';
  if (!ok)
    throw InvalidRequest('instructedAmount {currency, amount as a decimal string}, creditorName and creditorAccount {iban} are required');
  return t as Transfer;
}

/**
 * The payments tool (9412): `POST /transfers` moves money only as the token's
 * `payment_initiation` detail says, to the cent and the creditor (covers():
 * nested objects compare exactly). Above the threshold it also needs proof of
 * a human approval on a separate device (CIBA, issue 5): `acr` = the approval
 * class and `auth_time` at most five minutes old; without it the answer is
 * RFC 9470's 401 `insufficient_user_authentication` naming what is needed.
 */
export function createPaymentsTool(options: PaymentsOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  const verifier = new TokenVerifier({ issuer: options.issuer, audience: options.audience, ...(options.now ? { now: options.now } : {}) });
  const threshold = options.approvalThreshold ?? 10_000;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  protect(app, verifier, { name: 'Payments service', authorizationDetailsTypes: ['payment_initiation'] });

  app.post('/transfers', async (request, reply) => {
    const transfer = readTransfer(request.body);
    const token = tokenOf(request);
    requireDetail(token, {
      type: 'payment_initiation',
      locations: [options.audience],
      actions: ['initiate'],
      instructedAmount: transfer.instructedAmount,
      creditorName: transfer.creditorName,
      creditorAccount: transfer.creditorAccount,
    });
    if (Number(transfer.instructedAmount.amount) > threshold) {
      const authTime = typeof token.claims.auth_time === 'number' ? token.claims.auth_time : 0;
      if (token.claims.acr !== APPROVAL_ACR || now() - authTime > APPROVAL_MAX_AGE) {
        const error = new OAuthError(
          'insufficient_user_authentication',
          401,
          'transfers above the threshold need a fresh approval on your device',
        );
        return reply
          .code(401)
          .header(
            'www-authenticate',
            `Bearer error="${error.error}", error_description="${error.description}", acr_values="${APPROVAL_ACR}", max_age=${APPROVAL_MAX_AGE}`,
          )
          .header('cache-control', 'no-store')
          .send({ ...error.toJSON(), acr_values: APPROVAL_ACR, max_age: APPROVAL_MAX_AGE });
      }
    }
    return reply.code(201).send({ id: randomUUID(), status: 'accepted', ...transfer, initiatedBy: token.sub, actors: token.actors });
  });
  return app;
}
