import type { VerifiedProof } from '@palisade/core';
import type { IdpContext } from '../context.js';
import type { Client } from '../realm.js';
import type { TokenResponse } from '../tokens/model.js';

/** One grant type at the token endpoint: the parameters it reads and what it does with them. */
export interface GrantHandler<K extends string = string> {
  readonly grantType: string;
  readonly parameters: readonly K[];
  /** `proof`: the request's verified DPoP proof (RFC 9449 §5); the tokens are bound to its key. */
  handle(
    ctx: IdpContext,
    client: Client,
    params: { readonly [P in K]?: string },
    body: URLSearchParams,
    proof: VerifiedProof | undefined,
  ): Promise<TokenResponse>;
}
