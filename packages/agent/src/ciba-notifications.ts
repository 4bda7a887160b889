import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { ApprovalDenied, ApprovalExpired, ProtocolError, ServerOAuthError } from './errors.js';

const sameSecret = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/**
 * A one-shot receiver for CIBA ping and push notifications (CIBA §10.2,
 * §10.3): it answers 204 to the one POST that carries this request's
 * client_notification_token and auth_req_id, 401 to anything else.
 */
export class NotificationReceiver {
  private constructor(
    readonly server: Server,
    readonly notification: Promise<Record<string, unknown>>,
  ) {}

  static async listen(options: {
    host: string;
    port: number;
    path: string;
    token: string;
    authReqId: () => string | undefined;
  }): Promise<NotificationReceiver> {
    let deliver: (body: Record<string, unknown>) => void = () => {};
    const notification = new Promise<Record<string, unknown>>((resolve) => {
      deliver = resolve;
    });
    const server = createServer((request, response) => {
      const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (request.method !== 'POST' || request.url !== options.path || !bearer || !sameSecret(bearer, options.token)) {
        request.resume();
        response.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 64 * 1024) chunks.push(chunk);
      });
      request.on('end', () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // Not JSON: refused below.
        }
        const expected = options.authReqId();
        if (size > 64 * 1024 || typeof body.auth_req_id !== 'string' || !expected || !sameSecret(body.auth_req_id, expected)) {
          response.writeHead(400).end();
          return;
        }
        response.writeHead(204).end();
        deliver(body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    return new NotificationReceiver(server, notification);
  }

  close(): void {
    this.server.close();
  }
}

const jwksCache = new Map<string, JWTVerifyGetKey>();

/** OpenID Connect Core §3.3.2.11: the hash of the ID token's own algorithm (EdDSA: SHA-512, the Ed25519 hash). */
export function hashOf(alg: string): string {
  if (alg === 'EdDSA') return 'sha512';
  if (alg.endsWith('384')) return 'sha384';
  if (alg.endsWith('512')) return 'sha512';
  return 'sha256';
}

/**
 * Pushed tokens (CIBA §10.3.1) count only with an ID token signed by the
 * issuer, for this client, for this request (`auth_req_id` claim), whose
 * `at_hash` matches the access token: the channel is inbound, so the tokens
 * are checked rather than trusted. A pushed error becomes the same typed
 * error a poll would have given.
 */
export async function verifyPushedTokens(
  body: Record<string, unknown>,
  expected: { issuer: string; clientId: string; jwksUri: string; authReqId: string; now?: () => number },
): Promise<{ accessToken: string; expiresIn: number | undefined }> {
  if (typeof body.error === 'string') {
    const description = typeof body.error_description === 'string' ? body.error_description : undefined;
    if (body.error === 'access_denied') throw new ApprovalDenied(body.error, 200, description);
    if (body.error === 'expired_token') throw new ApprovalExpired(body.error, 200, description);
    throw new ServerOAuthError(body.error, 200, description);
  }
  const { access_token: accessToken, id_token: idToken, expires_in: expiresIn } = body;
  if (typeof accessToken !== 'string' || typeof idToken !== 'string')
    throw new ProtocolError('push_without_tokens', 'the push carried no tokens');
  let jwks = jwksCache.get(expected.jwksUri);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(expected.jwksUri));
    jwksCache.set(expected.jwksUri, jwks);
  }
  const verified = await jwtVerify(idToken, jwks, {
    issuer: expected.issuer,
    audience: expected.clientId,
    ...(expected.now ? { currentDate: new Date(expected.now() * 1000) } : {}),
  }).catch((error: unknown) => {
    throw new ProtocolError('push_id_token', 'the pushed ID token is not valid', error);
  });
  const digest = createHash(hashOf(String(verified.protectedHeader.alg)))
    .update(accessToken)
    .digest();
  const atHash = digest.subarray(0, digest.length / 2).toString('base64url');
  if (verified.payload['urn:openid:params:jwt:claim:auth_req_id'] !== expected.authReqId || verified.payload.at_hash !== atHash)
    throw new ProtocolError('push_mismatch', 'the pushed tokens do not belong to this request');
  return { accessToken, expiresIn: typeof expiresIn === 'number' ? expiresIn : undefined };
}
