import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '@palisade/core';
import { basic, post } from '../helpers/http.js';
import { DEMO, startTestIdp, type TestIdp, WallClock } from '../helpers/idp.js';

/**
 * ADR 0011: the IdP recognizes an access token it issued by the SHA-256 its
 * record keeps, instead of checking the signature again. These tests show the
 * shortcut takes nothing away: an altered token, a token whose key was
 * withdrawn and a token from before hashes are judged as the signature would
 * judge them.
 */
describe('the IdP recognizes its own access tokens by their record (ADR 0011)', () => {
  let server: TestIdp;
  const bot = basic(DEMO.opsBot.id, DEMO.opsBot.secret);
  const issue = async () => {
    const reply = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, bot);
    assert.equal(reply.status, 200);
    return reply.body.access_token as string;
  };
  const active = async (token: string) => (await post(`${server.issuer}/introspect`, { token }, bot)).body.active;

  before(async () => {
    server = await startTestIdp({ clock: new WallClock() });
  });
  after(() => server.close());

  it('the record keeps the SHA-256 of the token as issued, and introspection says active', async () => {
    const token = await issue();
    const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti as string;
    const record = await server.idp.context.store.find<{ tokenHash?: string }>('access_token', jti);
    assert.equal(record?.value.tokenHash, sha256(token));
    assert.equal(await active(token), true);
  });

  it('a token altered after issuance (same jti, another scope, the old signature) is inactive', async () => {
    const [header, payload, signature] = (await issue()).split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    const altered = Buffer.from(JSON.stringify({ ...claims, scope: 'tools.access admin' })).toString('base64url');
    assert.equal(await active(`${header}.${altered}.${signature}`), false);
  });

  it('a token recorded before token hashes is checked by its signature, and still works', async () => {
    const token = await issue();
    const jti = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).jti as string;
    const { store } = server.idp.context;
    const record = await store.find<Record<string, unknown>>('access_token', jti);
    const { tokenHash: _dropped, ...older } = record?.value ?? {};
    await store.upsert('access_token', jti, older, { expiresAt: record?.expiresAt ?? null });
    assert.equal(await active(token), true);
  });

  it('a token whose signing key was withdrawn from the store is inactive, though its record matches', async () => {
    const token = await issue();
    const kid = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()).kid as string;
    const { store, keystore } = server.idp.context;
    await store.delete('signing_key', kid);
    await keystore.reload();
    assert.equal(await active(token), false);
  });
});
