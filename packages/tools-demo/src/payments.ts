import { randomUUID } from 'node:crypto';
import { InvalidRequest, OAuthError } from '@palisade/core';
import { requireDetail, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { auditOption } from './audit-option.js';
import type { ToolOptions } from './files.js';

export interface PaymentsOptions extends ToolOptions {
  /**
   * Per currency, the amount above which a transfer needs a fresh approval on
   * the user's device (demo: EUR 10,000). A currency without a threshold is
   * refused: no silent pass for an exotic currency.
   */
  readonly approvalThresholds?: Readonly<Record<string, string>>;
}

/** A decimal string as integer minor units (cents): exact, no floating point. */
function minorUnits(amount: string): bigint {
  const [units = '0', cents = ''] = amount.split('.');
  return BigInt(units) * 100n + BigInt(cents.padEnd(2, '0'));
}

const TRANSFER_FIELDS = new Set(['instructedAmount', 'creditorName', 'creditorAccount', 'remittanceInformationUnstructured']);

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
    typeof t.creditorAccount?.iban === 'string' &&
    Object.keys(t).every((field) => TRANSFER_FIELDS.has(field)) &&
    Object.keys(t.instructedAmount).length === 2 &&
    Object.keys(t.creditorAccount).length === 1 &&
    (t.remittanceInformationUnstructured === undefined || typeof t.remittanceInformationUnstructured === 'string');
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
  const thresholds = new Map(
    Object.entries(options.approvalThresholds ?? { EUR: '10000.00' }).map(([currency, amount]) => [currency, minorUnits(amount)]),
  );
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  /**
   * One transfer per token (its `jti`), so an approval cannot be replayed by
   * resending the request. In memory: the demo runs one payments process; a
   * cluster keeps this in the shared store. A new token for the same detail
   * needs the user's consent or approval again at the IdP.
   */
  const executed = new Map<string, number>();
  protect(app, verifier, { name: 'Payments service', authorizationDetailsTypes: ['payment_initiation'] }, auditOption(options));

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
      // The remittance text the payer approved is part of the payment, never free to change.
      ...(transfer.remittanceInformationUnstructured === undefined
        ? {}
        : { remittanceInformationUnstructured: transfer.remittanceInformationUnstructured }),
    });
    const threshold = thresholds.get(transfer.instructedAmount.currency);
    if (threshold === undefined) throw InvalidRequest('this currency is not accepted');
    if (minorUnits(transfer.instructedAmount.amount) > threshold) {
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
    for (const [jti, exp] of executed) if (exp < now()) executed.delete(jti);
    if (executed.has(token.jti)) {
      return reply.code(409).send({ error: 'already_executed', error_description: 'this authorization was used for a transfer already' });
    }
    executed.set(token.jti, token.exp);
    return reply.code(201).send({ id: randomUUID(), status: 'accepted', ...transfer, initiatedBy: token.sub, actors: token.actors });
  });
  return app;
}
