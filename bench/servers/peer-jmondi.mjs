// Peer: @jmondi/oauth2-server 4 issuing ES256 JWT access tokens by client_credentials and by token
// exchange (RFC 8693), with in-memory repositories as in its examples. Its JwtInterface is backed by
// jose with one imported ES256 key, the same signing path as the floor and Palisade.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { AuthorizationServer, DateInterval, OAuthRequest } from '@jmondi/oauth2-server';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey, publicKey } = await generateKeyPair('ES256');
const verifyKey = await importJWK({ ...(await exportJWK(publicKey)), alg: 'ES256' }, 'ES256');

const scope = { name: 'tools.access' };
const clients = new Map(
  [
    ['ops-bot', 'ops-bot-secret', ['client_credentials']],
    ['mcp-gateway', 'mcp-gateway-secret', ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange']],
  ].map(([id, secret, allowedGrants]) => [id, { id, name: id, secret, redirectUris: [], allowedGrants, scopes: [scope] }]),
);
const clientRepository = {
  getByIdentifier: async (id) => clients.get(id),
  isClientValid: async (grantType, client, secret) => client.secret === secret && client.allowedGrants.includes(grantType),
};
const scopeRepository = {
  getAllByIdentifiers: async (names) => names.filter((n) => n === scope.name).map(() => scope),
  finalize: async (scopes) => scopes,
};
const tokenRepository = {
  issueToken: async (client, scopes, user) => ({
    accessToken: randomBytes(32).toString('base64url'),
    accessTokenExpiresAt: new DateInterval('5m').getEndDate(),
    client,
    user,
    scopes,
  }),
  issueRefreshToken: async (token) => token,
  persist: async () => undefined,
  revoke: async () => undefined,
  isRefreshTokenRevoked: async () => false,
  getByRefreshToken: async () => {
    throw new Error('not used');
  },
};
const jwt = {
  verify: async (token) => (await jwtVerify(token, verifyKey)).payload,
  decode: (token) => decodeJwt(token),
  sign: (payload) => new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' }).sign(privateKey),
};
const server = new AuthorizationServer(clientRepository, tokenRepository, scopeRepository, jwt, { issuer, requiresPKCE: true });
server.enableGrantType('client_credentials');
server.enableGrantType({
  grant: 'urn:ietf:params:oauth:grant-type:token-exchange',
  // The subject token must be one of ours, for the gateway: verified, then its subject is the user.
  processTokenExchange: async ({ subjectToken }) => {
    const { payload } = await jwtVerify(subjectToken, verifyKey, { audience: 'http://127.0.0.1:9401/mcp' });
    return { id: payload.sub };
  },
});

createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => {
    body += chunk;
  });
  request.on('end', async () => {
    let status = 200;
    let payload;
    try {
      const answer = await server.respondToAccessTokenRequest(
        new OAuthRequest({ body: Object.fromEntries(new URLSearchParams(body)), headers: request.headers }),
      );
      status = answer.status;
      payload = answer.body;
    } catch (error) {
      status = error.status ?? 500;
      payload = { error: error.error ?? 'server_error' };
    }
    const text = JSON.stringify(payload);
    response.writeHead(status, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
    });
    response.end(text);
  });
}).listen(port, '127.0.0.1', () => process.send?.({ port }));

// A subject token for the exchange figure: a user's token for the gateway, signed by this server's key.
process.on('message', async (message) => {
  if (message !== 'token') return;
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ client_id: 'assistant', scope: 'tools.access' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject('alice')
    .setAudience('http://127.0.0.1:9401/mcp')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(privateKey);
  process.send?.({ token });
});
