import {
  type CryptoKey,
  createRemoteJWKSet,
  customFetch,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
  type RemoteJWKSet,
  type RemoteJWKSetOptions,
} from 'jose';

/**
 * The IdP's keys from its JWKS URL: jose's remote set (fetched once,
 * refetched when stale or on an unknown `kid` past the cooldown), with the
 * key each `alg` and `kid` resolved to kept until jose fetches the set again
 * (`memoizedKeys`).
 */
export function remoteKeys(url: URL, options: RemoteJWKSetOptions): JWTVerifyGetKey {
  let fetches = 0;
  const remote = createRemoteJWKSet(url, {
    ...options,
    [customFetch]: (resource, init) => {
      fetches++;
      return fetch(resource, init);
    },
  });
  return memoizedKeys(remote, () => fetches);
}

/**
 * jose's remote set, with the key each `alg` and `kid` resolved to kept for
 * as long as jose keeps the set it came from. jose selects among the set's
 * keys and looks up its import cache on every call: about 4 µs of a 100 µs
 * ES256 verification under load (docs/performance.md). Each kept key is
 * tagged with jose's fetch count when it was asked for, and answers only
 * while that count stands and the set is within its `cacheMaxAge`: once jose
 * starts fetching the set again, every kept key goes back to jose, so a key
 * the IdP withdrew stops verifying when jose's own lookup would. A key asked
 * for while a fetch is in flight is not kept (jose may answer it from the set
 * it is replacing). Headers without a `kid` always go to jose, which refuses
 * an ambiguous match.
 */
export function memoizedKeys(remote: RemoteJWKSet, fetches: () => number): JWTVerifyGetKey {
  const memo = new Map<string, { readonly key: CryptoKey; readonly fetches: number }>();
  return (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const id = typeof header.kid === 'string' && typeof header.alg === 'string' ? `${header.alg} ${header.kid}` : undefined;
    const known = id === undefined ? undefined : memo.get(id);
    if (known !== undefined && known.fetches === fetches() && remote.fresh) return known.key;
    const quiet = !remote.reloading;
    const asked = fetches();
    return remote(header, token).then((key) => {
      // Only keys jose resolved are kept: no more entries than the set has keys and algorithms.
      if (id !== undefined && quiet) memo.set(id, { key, fetches: asked });
      return key;
    });
  };
}
