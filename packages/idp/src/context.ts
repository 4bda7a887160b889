import type { Clock, DpopNonces } from '@palisade/core';
import type { Store } from '@palisade/store';
import type { FastifyBaseLogger } from 'fastify';
import type { RequestContext } from './audit/context.js';
import type { AuditTrail } from './audit/trail.js';
import type { Backchannel } from './ciba/backchannel.js';
import type { RateLimits } from './http/rate-limit.js';
import type { Keystore } from './keys/keystore.js';
import type { Realm } from './realm.js';
import type { TokenIssuer } from './tokens/issuer.js';

/** Endpoint URLs, derived once from the issuer. */
export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly userinfo: string;
  readonly jwks: string;
  readonly introspection: string;
  readonly revocation: string;
  readonly endSession: string;
  readonly par: string;
  readonly backchannelAuthentication: string;
  readonly device: string;
}

/** What every endpoint, grant and interaction step works with. */
export interface IdpContext {
  readonly realm: Realm;
  readonly store: Store;
  readonly clock: Clock;
  readonly keystore: Keystore;
  readonly tokens: TokenIssuer;
  readonly endpoints: Endpoints;
  /** CIBA's live side: device listeners, notification delivery, expiry timers. */
  readonly backchannel: Backchannel;
  /** The tamper-evident audit trail every security decision is recorded in. */
  readonly audit: AuditTrail;
  /** Throttling of the token, PAR and CIBA endpoints. */
  readonly rateLimits: RateLimits;
  /** DPoP server nonces (RFC 9449 §8), used when `dpop.require_nonce` is on. */
  readonly dpopNonces: DpopNonces;
  /** Structured events (never a token, code, secret or password). */
  readonly log: FastifyBaseLogger;
  /**
   * The request being served (its trace, endpoint, client and grant), on the
   * copy of the context each route hands down (`serving`); absent in
   * background work. Audit events recorded with it carry its trace.
   */
  readonly request?: RequestContext;
}

export const PATHS = {
  authorization: '/authorize',
  token: '/token',
  userinfo: '/userinfo',
  jwks: '/jwks',
  introspection: '/introspect',
  revocation: '/revoke',
  endSession: '/logout',
  par: '/par',
  backchannelAuthentication: '/bc-authorize',
  device: '/device',
  audit: '/audit',
  interaction: '/interaction',
} as const;

export function endpointsFor(issuer: string): Endpoints {
  const base = issuer.replace(/\/$/, '');
  return {
    authorization: base + PATHS.authorization,
    token: base + PATHS.token,
    userinfo: base + PATHS.userinfo,
    jwks: base + PATHS.jwks,
    introspection: base + PATHS.introspection,
    revocation: base + PATHS.revocation,
    endSession: base + PATHS.endSession,
    par: base + PATHS.par,
    backchannelAuthentication: base + PATHS.backchannelAuthentication,
    device: base + PATHS.device,
  };
}
