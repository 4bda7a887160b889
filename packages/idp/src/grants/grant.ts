import type { IdpContext } from '../context.js';
import type { Client } from '../realm.js';
import type { TokenResponse } from '../tokens/model.js';

/** One grant type at the token endpoint: the parameters it reads and what it does with them. */
export interface GrantHandler<K extends string = string> {
  readonly grantType: string;
  readonly parameters: readonly K[];
  handle(ctx: IdpContext, client: Client, params: { readonly [P in K]?: string }, body: URLSearchParams): Promise<TokenResponse>;
}
