import { DPOP_ALGORITHMS } from '@palisade/core';
import type { FastifyInstance } from 'fastify';
import { ASSERTION_ALGORITHMS } from '../client-auth/private-key-jwt.js';
import { AUTH_METHODS, DELIVERY_MODES } from '../config/schema.js';
import { type IdpContext, PATHS } from '../context.js';
import { ACR } from '../interactions/model.js';
import { GRANTS } from './token.js';

/**
 * Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata
 * (OIDC Discovery §3): one document served at both well-known URIs.
 */
export function metadata(ctx: IdpContext): Record<string, unknown> {
  const { realm, endpoints } = ctx;
  const algorithms = realm.config.keys.algorithms;
  return {
    issuer: realm.issuer,
    authorization_endpoint: endpoints.authorization,
    token_endpoint: endpoints.token,
    userinfo_endpoint: endpoints.userinfo,
    jwks_uri: endpoints.jwks,
    introspection_endpoint: endpoints.introspection,
    revocation_endpoint: endpoints.revocation,
    pushed_authorization_request_endpoint: endpoints.par,
    require_pushed_authorization_requests: realm.config.par.required,
    authorization_details_types_supported: realm.detailTypes.supported,
    end_session_endpoint: endpoints.endSession,
    // OpenID Connect CIBA Core §4.
    backchannel_authentication_endpoint: endpoints.backchannelAuthentication,
    backchannel_token_delivery_modes_supported: [...DELIVERY_MODES],
    backchannel_user_code_parameter_supported: true,
    scopes_supported: realm.scopesSupported,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANTS.keys()],
    code_challenge_methods_supported: ['S256'],
    // Clients identified by an https URL to their metadata document (MCP 2025-11-25 client registration).
    ...(realm.config.client_id_metadata_documents.enabled ? { client_id_metadata_document_supported: true } : {}),
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    // RFC 8414 §2: listed for every endpoint that accepts private_key_jwt, from the one list the verifier uses.
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...algorithms],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'acr',
      'amr',
      'azp',
      'sid',
      'rt_hash',
      'urn:openid:params:jwt:claim:auth_req_id',
      'name',
      'preferred_username',
      'email',
      'email_verified',
    ],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    // request_uri only as the handle of a pushed request (RFC 9126), not a URL to fetch.
    request_uri_parameter_supported: false,
    prompt_values_supported: ['none', 'login', 'consent'],
    acr_values_supported: [ACR.ciba, ACR.mfa, ACR.password],
    // RFC 9207 §3: every authorization response carries `iss` (SECURITY A11).
    authorization_response_iss_parameter_supported: true,
    // RFC 9449 §5.1.
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}

export function discoveryEndpoints(app: FastifyInstance, ctx: IdpContext): void {
  const document = metadata(ctx);
  const serve = async () => document;
  app.get('/.well-known/openid-configuration', serve);
  app.get('/.well-known/oauth-authorization-server', serve);
  app.get(PATHS.jwks, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=60').type('application/jwk-set+json').send(ctx.keystore.jwks),
  );
}
