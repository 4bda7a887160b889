// The token-issuance floor: a bare node:http server that reads a form body and
// signs one ES256 JWT per request with the same claims shape as Palisade's
// client_credentials tokens. No routing, no auth, no storage.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { generateKeyPair, SignJWT } from 'jose';

const { privateKey } = await generateKeyPair('ES256');
const issuer = 'http://127.0.0.1';

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => {
    body += chunk;
  });
  request.on('end', async () => {
    new URLSearchParams(body);
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ client_id: 'ops-bot', scope: 'tools.access' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
      .setIssuer(issuer)
      .setSubject('ops-bot')
      .setAudience('http://127.0.0.1:9401/mcp')
      .setJti(randomBytes(16).toString('base64url'))
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    const payload = JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 300, scope: 'tools.access' });
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    response.end(payload);
  });
});
server.listen(0, '127.0.0.1', () => process.send?.({ port: server.address().port }));
