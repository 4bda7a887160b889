import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import { DEMO, startTestIdp, type TestIdp } from '../helpers/idp.js';

const insecure = { [oauth.allowInsecureRequests]: true };

describe('oauth4webapi 3: private_key_jwt agents and RFC 9068 validation of our access tokens', () => {
  let server: TestIdp;
  let as: oauth.AuthorizationServer;
  let agentKey: oauth.CryptoKey;

  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    agentKey = privateKey;
    const jwk = { ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' };
    server = await startTestIdp({
      mutate: (doc) => {
        doc.clients.push({
          client_id: 'report-agent',
          name: 'Report agent',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [jwk] },
          grant_types: ['client_credentials'],
          scopes: ['tools.access'],
          default_resource: DEMO.gateway,
        });
      },
    });
    const issuer = new URL(server.issuer);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
  });
  after(() => server.close());

  async function agentToken(): Promise<string> {
    const client: oauth.Client = { client_id: 'report-agent' };
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.PrivateKeyJwt(agentKey),
      { scope: 'tools.access' },
      insecure,
    );
    return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
  }

  it('RFC 8414 metadata at /.well-known/oauth-authorization-server is accepted as is', () => {
    assert.equal(as.issuer, server.issuer);
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    assert.equal(as.authorization_response_iss_parameter_supported, true);
    assert.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'));
  });

  it('an agent authenticates with private_key_jwt (RFC 7523) and its token passes validateJwtAccessToken for the gateway', async () => {
    const token = await agentToken();
    const request = new Request(DEMO.gateway, { headers: { authorization: `Bearer ${token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, DEMO.gateway, insecure);
    assert.equal(claims.sub, 'report-agent');
    assert.equal(claims.client_id, 'report-agent');
    assert.equal(claims.scope, 'tools.access');
  });

  it('the same token is refused for another audience (SECURITY M2)', async () => {
    const token = await agentToken();
    const request = new Request('http://127.0.0.1:9410/', { headers: { authorization: `Bearer ${token}` } });
    await assert.rejects(
      oauth.validateJwtAccessToken(as, request, 'http://127.0.0.1:9410', insecure),
      (e: oauth.OperationProcessingError) => {
        assert.equal(e.code, oauth.JWT_CLAIM_COMPARISON);
        return true;
      },
    );
  });

  it('client secrets work through oauth4webapi too (client_secret_post)', async () => {
    const client: oauth.Client = { client_id: DEMO.opsBot.id };
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretPost(DEMO.opsBot.secret), {}, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.scope, 'tools.access');
  });
});

describe('selectable signing algorithms (keys.algorithms): tokens verify with a strict client', () => {
  for (const alg of ['EdDSA', 'PS256', 'ES384', 'RS256'] as const) {
    it(`${alg}: JWKS publishes it, access tokens are signed with it and pass validateJwtAccessToken`, async () => {
      const server = await startTestIdp({
        mutate: (doc) => {
          // RS256 always stays for ID tokens (OIDC Discovery §3); the first algorithm signs access tokens.
          doc.keys = { algorithms: alg === 'RS256' ? ['RS256'] : [alg, 'RS256'] };
        },
      });
      try {
        const issuer = new URL(server.issuer);
        const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
        assert.deepEqual(as.id_token_signing_alg_values_supported, alg === 'RS256' ? ['RS256'] : [alg, 'RS256']);
        const client: oauth.Client = { client_id: DEMO.opsBot.id };
        const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(DEMO.opsBot.secret), {}, insecure);
        const { access_token: token } = await oauth.processClientCredentialsResponse(as, client, response);
        const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as { alg: string };
        assert.equal(header.alg, alg);
        const request = new Request(DEMO.gateway, { headers: { authorization: `Bearer ${token}` } });
        const claims = await oauth.validateJwtAccessToken(as, request, DEMO.gateway, insecure);
        assert.equal(claims.client_id, DEMO.opsBot.id);
      } finally {
        await server.close();
      }
    });
  }
});
