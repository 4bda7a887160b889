import * as client from 'openid-client';
import { authorizeInBrowser, ScriptedBrowser } from './browser.js';
import { assistant, authorizationRequest } from './clients.js';
import { basic, call, field, post } from './http.js';
import { DEMO, type TestIdp } from './idp.js';

export const Q4 = { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' };
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** alice signs in through the assistant and allows reading Q4-report.pdf through the gateway. */
export async function aliceGatewayToken(server: TestIdp): Promise<string> {
  const config = await assistant(server.issuer);
  const request = await authorizationRequest(config, {
    scope: 'openid tools.access',
    resource: DEMO.gateway,
    authorization_details: JSON.stringify([Q4]),
  });
  server.clock.advance(30);
  const callback = await authorizeInBrowser(new ScriptedBrowser(server.issuer), request.url, { ...DEMO.alice, now: server.clock.now() });
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: request.verifier,
    expectedState: request.state,
    expectedNonce: request.nonce,
  });
  return tokens.access_token;
}

/**
 * The gateway's hop made by hand (an exchange for the reports tool, in the agent's trace), for tests of
 * the tools' own audit events; the real gateway's hop is in gateway-trace.test.ts.
 */
export async function gatewayHop(server: TestIdp, subjectToken: string, traceId: string): Promise<string> {
  const gateway = basic(DEMO.mcpGateway.id, DEMO.mcpGateway.secret);
  const actor = await post(`${server.issuer}/token`, { grant_type: 'client_credentials' }, gateway);
  const response = await call(`${server.issuer}/token`, {
    method: 'POST',
    headers: { authorization: gateway, traceparent: `00-${traceId}-1111111111111111-01` },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN,
      actor_token: field(actor, 'access_token'),
      actor_token_type: ACCESS_TOKEN,
      audience: DEMO.tools.reports,
      authorization_details: JSON.stringify([Q4]),
    }),
  });
  return field(response, 'access_token');
}
