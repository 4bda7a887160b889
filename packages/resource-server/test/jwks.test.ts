import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createRemoteJWKSet,
  customFetch,
  exportJWK,
  generateKeyPair,
  type JWK,
  jwtVerify,
  type RemoteJWKSet,
  type RemoteJWKSetOptions,
  SignJWT,
} from 'jose';
import { memoizedKeys, remoteKeys } from '../src/jwks.js';

/** A JWKS endpoint whose published keys the test changes, counting its fetches. */
async function jwksEndpoint() {
  const endpoint = { published: [] as JWK[], fetched: 0, delay: 0, url: '', close: () => {} };
  const server = createServer((_request, response) => {
    endpoint.fetched++;
    const body = JSON.stringify({ keys: endpoint.published });
    setTimeout(() => response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(body), endpoint.delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  endpoint.close = () => server.close();
  return endpoint;
}

async function signingKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const token = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setExpirationTime('5m').sign(privateKey);
  return { jwk, token };
}

/** jose's remote set with its calls and its fetches counted, and the memo over it. */
function observed(url: string, options: RemoteJWKSetOptions = {}) {
  let fetches = 0;
  const jose = createRemoteJWKSet(new URL(url), {
    ...options,
    [customFetch]: (resource, init) => {
      fetches++;
      return fetch(resource, init);
    },
  });
  const calls = { count: 0 };
  const remote = Object.defineProperties(
    (...args: Parameters<RemoteJWKSet>) => {
      calls.count++;
      return jose(...args);
    },
    {
      fresh: { get: () => jose.fresh },
      reloading: { get: () => jose.reloading },
    },
  ) as unknown as RemoteJWKSet;
  return { jose, calls, keys: memoizedKeys(remote, () => fetches) };
}

describe('memoizedKeys: the key of each kid kept no longer than jose keeps the JWKS', () => {
  let endpoint: Awaited<ReturnType<typeof jwksEndpoint>>;
  let a: Awaited<ReturnType<typeof signingKey>>;
  let b: Awaited<ReturnType<typeof signingKey>>;
  before(async () => {
    endpoint = await jwksEndpoint();
    [a, b] = [await signingKey('a'), await signingKey('b')];
  });
  after(() => endpoint.close());

  it('answers known kids without asking jose again, two kids side by side too', async () => {
    endpoint.published = [a.jwk, b.jwk];
    const { calls, keys } = observed(endpoint.url);
    const start = endpoint.fetched;
    for (let i = 0; i < 4; i++) {
      await jwtVerify(a.token, keys);
      await jwtVerify(b.token, keys);
    }
    // The first answer came with the set's first fetch (not kept); after it, each kid once.
    assert.equal(calls.count, 3, 'jose resolves each kid once after its first fetch');
    assert.equal(endpoint.fetched - start, 1);
  });

  it('a kid withdrawn and replaced stops verifying once jose refetches the set for the new one (remoteKeys, as the verifier uses it)', async () => {
    endpoint.published = [a.jwk];
    const keys = remoteKeys(new URL(endpoint.url), { cooldownDuration: 100 });
    const start = endpoint.fetched;
    for (let i = 0; i < 3; i++) await jwtVerify(a.token, keys);
    assert.equal(endpoint.fetched - start, 1);
    // The IdP withdraws a and publishes b. Until jose refetches, a still verifies, as it would without the memo.
    endpoint.published = [b.jwk];
    await jwtVerify(a.token, keys);
    await sleep(120);
    await jwtVerify(b.token, keys);
    assert.equal(endpoint.fetched - start, 2, 'the unknown kid b made jose refetch');
    await assert.rejects(jwtVerify(a.token, keys), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('a key asked for while jose refetches is not kept: a withdrawn kid is refused once the new set is in', async () => {
    endpoint.published = [a.jwk];
    const { jose, calls, keys } = observed(endpoint.url, { cooldownDuration: 0 });
    await jwtVerify(a.token, keys);
    endpoint.published = [b.jwk];
    endpoint.delay = 50;
    try {
      // b is unknown: jose refetches, slowly; a, asked meanwhile, is answered from the set jose still holds.
      const refetch = jwtVerify(b.token, keys);
      while (!jose.reloading) await sleep(1);
      await jwtVerify(a.token, keys);
      await refetch;
    } finally {
      endpoint.delay = 0;
    }
    await assert.rejects(jwtVerify(a.token, keys), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    assert.equal(calls.count, 4, 'a went back to jose after the refetch');
  });

  it('a set past its cacheMaxAge is not trusted from the memo: jose fetches it again and a withdrawn kid is refused', async () => {
    endpoint.published = [a.jwk, b.jwk];
    const { calls, keys } = observed(endpoint.url, { cooldownDuration: 50, cacheMaxAge: 100 });
    for (let i = 0; i < 3; i++) await jwtVerify(a.token, keys);
    assert.equal(calls.count, 2, 'a is kept after the first fetch');
    const start = endpoint.fetched;
    endpoint.published = [b.jwk];
    await sleep(120);
    await assert.rejects(jwtVerify(a.token, keys), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    assert.equal(endpoint.fetched - start, 1, 'the stale set was fetched again');
    await jwtVerify(b.token, keys);
  });

  it('a header without a kid always goes to jose, which refuses an ambiguous match', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const unnamed = { ...(await exportJWK(publicKey)), alg: 'ES256' };
    const noKid = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).sign(privateKey);
    endpoint.published = [unnamed];
    const { jose, calls, keys } = observed(endpoint.url);
    await jwtVerify(noKid, keys);
    await jwtVerify(noKid, keys);
    assert.equal(calls.count, 2, 'nothing kept without a kid');
    // A second key that fits a kid-less header: jose cannot choose.
    endpoint.published = [unnamed, a.jwk];
    await jose.reload();
    await assert.rejects(jwtVerify(noKid, keys), { code: 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' });
  });
});
