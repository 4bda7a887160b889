import { readFileSync } from 'node:fs';
import { type Clock, systemClock } from '@palisade/core';
import type { Store } from '@palisade/store';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { traceRequests } from './audit/context.js';
import { auditIngestion } from './audit/ingest.js';
import { auditRejections } from './audit/rejections.js';
import { openAuditTrail } from './audit/trail.js';
import { auditorRoutes } from './auditor/routes.js';
import { Backchannel } from './ciba/backchannel.js';
import { expireDue, redeliverStale } from './ciba/decide.js';
import type { ParsedConfig } from './config/schema.js';
import { endpointsFor, type IdpContext, PATHS } from './context.js';
import { deviceRoutes } from './device/routes.js';
import { dpopNonces } from './dpop/proof.js';
import { authorizationEndpoint } from './endpoints/authorize.js';
import { backchannelAuthenticationEndpoint } from './endpoints/backchannel-authentication.js';
import { discoveryEndpoints } from './endpoints/discovery.js';
import { endSessionEndpoint } from './endpoints/end-session.js';
import { introspectionEndpoint } from './endpoints/introspection.js';
import { parEndpoint } from './endpoints/par.js';
import { revocationEndpoint } from './endpoints/revocation.js';
import { tokenEndpoint } from './endpoints/token.js';
import { userinfoEndpoint } from './endpoints/userinfo.js';
import { createHttpApp, postOnly } from './http/app.js';
import { RateLimits } from './http/rate-limit.js';
import { interactionRoutes } from './interactions/routes.js';
import { Keystore, keyRetention } from './keys/keystore.js';
import { IdpMetrics } from './ops/metrics.js';
import { operationsRoutes } from './ops/routes.js';
import { Realm } from './realm.js';
import { TokenIssuer } from './tokens/issuer.js';

export interface IdpOptions {
  readonly config: ParsedConfig;
  readonly store: Store;
  readonly clock?: Clock;
  readonly logger?: FastifyServerOptions['logger'];
}

export interface Idp {
  readonly app: FastifyInstance;
  readonly context: IdpContext;
  /** Listens on the configured (or given) address; returns the base URL. */
  listen(address?: { host?: string; port?: number }): Promise<string>;
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Assembles the identity provider: realm from config, keys from the store,
 * and one module per endpoint. The returned app is ready for `inject` in
 * tests or `listen` for real.
 */
export async function createIdp(options: IdpOptions): Promise<Idp> {
  const { config, store } = options;
  const clock = options.clock ?? systemClock;
  const realm = new Realm(config);
  const { lifetimes } = config;
  const retention = keyRetention(config);
  const keystore = new Keystore(store, clock, config.keys.algorithms, retention, config.issuer);
  await keystore.initialize();
  const accessTokenAlg = config.keys.algorithms[0] ?? 'ES256';
  const { tls } = config.listen;
  const https = tls ? { cert: readFileSync(tls.cert_file, 'utf8'), key: readFileSync(tls.key_file, 'utf8') } : undefined;
  const app = createHttpApp(options.logger, { ...(https ? { https } : {}), hsts: config.issuer.startsWith('https:') });
  // The client sees only invalid_client or an error page; the operator sees why a metadata document was refused.
  realm.clients.onRefused = (clientId, reason) =>
    app.log.warn({ event: 'client.metadata_document_refused', client_id: clientId, reason }, 'client metadata document refused');
  const audit = await openAuditTrail(store, config, keystore, clock, app.log);
  const tokens = new TokenIssuer(
    config.issuer,
    store,
    clock,
    keystore,
    {
      accessToken: lifetimes.access_token,
      idToken: lifetimes.id_token,
      refreshToken: lifetimes.refresh_token,
      refreshTokenIdle: lifetimes.refresh_token_idle,
    },
    accessTokenAlg,
    audit,
    realm.audienceOwners,
    config.keys.algorithms.includes('RS256') ? 'RS256' : accessTokenAlg,
  );
  const { ciba } = config;
  const backchannel = new Backchannel(app.log, audit, {
    timeout: ciba.notification_timeout,
    attempts: ciba.notification_attempts,
    backoffMs: 1000,
  });
  const context: IdpContext = {
    realm,
    store,
    clock,
    keystore,
    tokens,
    endpoints: endpointsFor(config.issuer),
    backchannel,
    audit,
    dpopNonces: dpopNonces(config, store, () => clock.now()),
    rateLimits: new RateLimits(config.rate_limits, audit, app.log, {
      token: PATHS.token,
      par: PATHS.par,
      backchannel_authentication: PATHS.backchannelAuthentication,
    }),
    log: app.log,
  };

  // First, so their request hooks see every route registered after them.
  traceRequests(app);
  auditRejections(app, context);
  context.rateLimits.register(app);
  const metrics = new IdpMetrics(() => audit.backlog);
  audit.observe((event) => metrics.events.inc({ event: event.event, outcome: event.outcome }));
  operationsRoutes(app, context, metrics);
  discoveryEndpoints(app, context);
  authorizationEndpoint(app, context);
  interactionRoutes(app, context);
  tokenEndpoint(app, context);
  parEndpoint(app, context);
  backchannelAuthenticationEndpoint(app, context);
  deviceRoutes(app, context);
  auditIngestion(app, context);
  auditorRoutes(app, context);
  introspectionEndpoint(app, context);
  revocationEndpoint(app, context);
  userinfoEndpoint(app, context);
  endSessionEndpoint(app, context);
  postOnly(app, [PATHS.token, PATHS.introspection, PATHS.revocation, PATHS.par, PATHS.backchannelAuthentication]);

  const timers = [
    setInterval(
      () => void keystore.reload().catch((e: unknown) => app.log.error({ err: String(e) }, 'key reload failed')),
      config.keys.reload_interval * 1000,
    ),
    setInterval(
      () =>
        void Promise.all([expireDue(context), redeliverStale(context)]).catch((e: unknown) =>
          app.log.error({ err: String(e) }, 'CIBA sweep failed'),
        ),
      ciba.sweep_interval * 1000,
    ),
    setInterval(() => void store.sweep().catch((e: unknown) => app.log.error({ err: String(e) }, 'sweep failed')), SWEEP_INTERVAL_MS),
  ];
  for (const timer of timers) timer.unref();

  return {
    app,
    context,
    async listen(address = {}) {
      return app.listen({ host: address.host ?? config.listen.host, port: address.port ?? config.listen.port });
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      backchannel.close();
      await app.close();
      await audit.close();
    },
  };
}
