import * as client from 'openid-client';
import { DEMO } from './idp.js';

/** openid-client configured for a plain-http loopback issuer (FIELD-NOTES: allowInsecureRequests). */
export async function discover(
  issuer: string,
  clientId: string,
  auth: client.ClientAuth,
  metadata: Partial<client.ClientMetadata> = {},
): Promise<client.Configuration> {
  return client.discovery(new URL(issuer), clientId, metadata, auth, { execute: [client.allowInsecureRequests] });
}

export function assistant(issuer: string, method: 'basic' | 'post' = 'basic'): Promise<client.Configuration> {
  const auth = method === 'basic' ? client.ClientSecretBasic(DEMO.assistant.secret) : client.ClientSecretPost(DEMO.assistant.secret);
  return discover(issuer, DEMO.assistant.id, auth);
}

export function opsBot(issuer: string, method: 'basic' | 'post' = 'basic'): Promise<client.Configuration> {
  const auth = method === 'basic' ? client.ClientSecretBasic(DEMO.opsBot.secret) : client.ClientSecretPost(DEMO.opsBot.secret);
  return discover(issuer, DEMO.opsBot.id, auth);
}

export interface PkceRequest {
  readonly url: URL;
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
}

/**
 * An authorization URL with PKCE S256, state and nonce, as a careful client
 * builds it: pushed first (RFC 9126; the demo `assistant` requires it), or in
 * the front channel with `{ pushed: false }`.
 */
export async function authorizationRequest(
  config: client.Configuration,
  parameters: Record<string, string> = {},
  { pushed = true }: { pushed?: boolean } = {},
): Promise<PkceRequest> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const build = pushed
    ? client.buildAuthorizationUrlWithPAR
    : (c: client.Configuration, p: Record<string, string>) => Promise.resolve(client.buildAuthorizationUrl(c, p));
  const url = await build(config, {
    redirect_uri: DEMO.assistant.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...parameters,
  });
  return { url, verifier, state, nonce };
}
