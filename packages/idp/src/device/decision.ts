import type { FastifyReply } from 'fastify';
import { approve, deny, findRequest } from '../ciba/decide.js';
import { requestKey } from '../ciba/model.js';
import type { IdpContext } from '../context.js';
import { checkTotp, typedCode } from '../interactions/credentials.js';
import { ACR } from '../interactions/model.js';

export type Outcome = 'approved' | 'denied' | 'code_required' | 'code_invalid' | 'locked' | 'not_found' | 'already_decided' | 'expired';

/**
 * One decision on the device, from the web page or the JSON API alike.
 * Approval is a step-up: a user with TOTP gives a fresh code (single-use,
 * counted towards lockout), and the tokens then say so (`acr`
 * urn:palisade:acr:ciba, `amr` with otp). Denial takes one tap. Either is
 * final; a request already decided or expired is left as it is.
 */
export async function decideOnDevice(
  ctx: IdpContext,
  reply: FastifyReply,
  input: { sub: string; rid: string; action: 'approve' | 'deny'; code: string | undefined; amr: readonly string[] },
): Promise<Outcome> {
  const request = await findRequest(ctx, input.sub, input.rid);
  if (!request) return 'not_found';
  if (request.expiresAt <= ctx.clock.now()) return 'expired';
  if (await ctx.store.find('ciba_decision', requestKey(request.sub, request.rid))) return 'already_decided';
  if (input.action === 'deny') return (await deny(ctx, request)) === 'recorded' ? 'denied' : 'already_decided';

  const user = ctx.realm.usersBySub.get(input.sub);
  if (!user) return 'not_found';
  let approval = { acr: ACR.password as string, amr: [...input.amr] };
  if (user.totpSecret) {
    const code = typedCode(input.code);
    if (code === undefined) return 'code_required';
    const checked = await checkTotp(ctx, reply, user, code);
    if (!checked.ok) return checked.reason === 'locked' ? 'locked' : 'code_invalid';
    // RFC 8176: the device session's methods, plus the one-time password just given.
    approval = { acr: ACR.ciba, amr: [...new Set([...input.amr, 'otp', 'mfa'])] };
  }
  const result = await approve(ctx, request, approval);
  if (result === 'recorded') return 'approved';
  return result === 'expired' ? 'expired' : 'already_decided';
}

/** What the person is told after each outcome (fixed texts: nothing from the request is reflected). */
export const OUTCOME_TEXT: Readonly<Record<Outcome, string>> = {
  approved: 'Approved. The application has been told.',
  denied: 'Denied. The application has been told.',
  code_required: 'Enter the 6-digit code from your authenticator app to approve.',
  code_invalid: 'That code is not valid. Codes can be used once; wait for the next one.',
  locked: 'Too many failed attempts. Wait a few minutes, then try again.',
  not_found: 'That request no longer exists.',
  already_decided: 'That request was already decided.',
  expired: 'That request expired before you decided.',
};
