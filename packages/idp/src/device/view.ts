import type { CibaRequest } from '../ciba/model.js';
import type { IdpContext } from '../context.js';

/** A pending request as the device shows it: everything in words, plus every field verbatim (RFC 9396 §4). */
export interface RequestView {
  readonly id: string;
  readonly client: { readonly id: string; readonly name: string };
  /** "Finance assistant asks to make a payment of …", one per detail; a sign-in when there are none. */
  readonly headlines: readonly string[];
  readonly binding_message: string | null;
  readonly details: readonly { readonly sentence: string; readonly fields: readonly { name: string; value: string }[] }[];
  readonly scope: readonly string[];
  readonly expires_at: number;
  /** A fresh TOTP code is needed to approve (the user has a second factor). */
  readonly needs_code: boolean;
}

export function viewOf(ctx: IdpContext, request: CibaRequest): RequestView {
  const client = ctx.realm.clients.get(request.clientId);
  const name = client?.name ?? request.clientId;
  const details = (request.authorizationDetails ?? []).map((detail) => ctx.realm.detailTypes.describe(detail));
  return {
    id: request.rid,
    client: { id: request.clientId, name },
    headlines:
      details.length > 0 ? details.map((d) => `${name} asks to ${d.phrase}`) : [`${name} asks you to confirm it is acting for you`],
    binding_message: request.bindingMessage ?? null,
    details: details.map((d) => ({ sentence: d.sentence, fields: d.fields })),
    scope: request.scope,
    expires_at: request.expiresAt,
    needs_code: ctx.realm.usersBySub.get(request.sub)?.totpSecret !== undefined,
  };
}
