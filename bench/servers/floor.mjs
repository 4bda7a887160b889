// The floors: bare node:http servers doing only the unavoidable work of each
// Palisade figure, with nothing else — no routing, no auth, no storage.
//   FLOOR=json      answer a fixed JSON body (the HTTP floor)
//   FLOOR=sign      read a form body, sign one ES256 JWT shaped like a client_credentials token (token issuance)
//   FLOOR=exchange  read a form body, verify its subject_token, sign one (token exchange)
//   FLOOR=verify    verify the Bearer JWT of the request (a resource server)
// Keys are imported once at start (FIELD-NOTES: never per request).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';

const mode = process.env.FLOOR ?? 'sign';
const issuer = 'http://127.0.0.1';
const audience = 'http://127.0.0.1:9401/mcp';
const { privateKey, publicKey } = await generateKeyPair('ES256');
const verifyKey = await importJWK({ ...(await exportJWK(publicKey)), alg: 'ES256' }, 'ES256');

function sign(sub) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: 'ops-bot', scope: 'tools.access' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setSubject(sub)
    .setAudience(audience)
    .setJti(randomBytes(16).toString('base64url'))
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(privateKey);
}

const verify = (token) => jwtVerify(token, verifyKey, { issuer, audience, typ: 'at+jwt', algorithms: ['ES256'] });

const json = (response, status, value) => {
  const payload = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(payload),
  });
  response.end(payload);
};

async function answer(request, response, body) {
  if (mode === 'json') return json(response, 200, { ok: true, schedules: ['Q4-report.pdf', 'budget-2027.xlsx'] });
  if (mode === 'verify') {
    await verify((request.headers.authorization ?? '').slice('Bearer '.length));
    return json(response, 200, { ok: true });
  }
  const params = new URLSearchParams(body);
  if (mode === 'exchange') {
    const { payload } = await verify(params.get('subject_token') ?? '');
    const token = await sign(payload.sub);
    return json(response, 200, {
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 300,
    });
  }
  return json(response, 200, { access_token: await sign('ops-bot'), token_type: 'Bearer', expires_in: 300, scope: 'tools.access' });
}

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => {
    body += chunk;
  });
  request.on('end', () => answer(request, response, body).catch(() => json(response, 401, { error: 'invalid_token' })));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => process.send?.({ port: server.address().port }));

// The exchange floor needs a subject token it can verify: the harness asks for one.
process.on('message', async (message) => {
  if (message === 'token') process.send?.({ token: await sign('alice') });
  if (message === 'exit') process.exit(0);
});
