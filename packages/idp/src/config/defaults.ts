/**
 * Every default in one place (docs/configuration.md mirrors this file).
 * Lifetimes are in seconds.
 */
export const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 9400 },
  dataDir: './.palisade',
  keys: {
    /** The first algorithm signs access tokens; RS256 is kept for ID tokens (OpenID Connect Core §2 default). */
    algorithms: ['ES256', 'RS256'] as const,
    /** How often a running server re-reads keys from the store, so `palisade keys rotate` reaches it. */
    reloadInterval: 30,
  },
  tokens: {
    accessToken: 300,
    idToken: 300,
    /** FAPI 2.0 §5.3.2.1: at most 60 s. */
    authorizationCode: 60,
    /** Absolute lifetime of a refresh-token family (the grant). */
    refreshToken: 14 * 24 * 3600,
    /** An unused refresh token expires after this much idleness. */
    refreshTokenIdle: 7 * 24 * 3600,
  },
  session: {
    lifetime: 8 * 3600,
    cookieName: 'palisade_session',
  },
  interaction: {
    lifetime: 600,
    cookieName: 'palisade_interaction',
  },
  login: {
    /** Failed password or TOTP attempts per user before a temporary lock. */
    maxFailures: 5,
    lockout: 300,
  },
  http: {
    /** Bodies above this are refused with 413 before any parsing (SECURITY J2). */
    bodyLimit: 64 * 1024,
    /** A form with more parameters than this is refused before any work (SECURITY J2). */
    maxParameters: 64,
    /** The longest parameter value accepted (a token, an assertion, authorization_details: all far smaller). */
    maxParameterLength: 16 * 1024,
    /** RFC 6797: a year of https-only once a browser has seen the issuer over https. */
    hstsMaxAge: 31_536_000,
    /** Seconds a request may take to arrive whole. */
    requestTimeout: 30,
  },
  par: {
    /** RFC 9126 §2.2 suggests a short lifetime; the login that follows is not bound by it. */
    lifetime: 90,
  },
  /** Requests per client and per IP address per `window` seconds; bursts up to the limit pass. */
  rateLimits: {
    window: 60,
    token: { perClient: 6000, perIp: 12_000 },
    par: { perClient: 600, perIp: 1200 },
    backchannelAuthentication: { perClient: 600, perIp: 1200 },
  },
  dpop: {
    nonceLifetime: 300,
    /** RFC 9449 §11.1 leaves the window to the server; a minute covers honest clocks and slow networks. */
    proofMaxAge: 60,
  },
  authorizationDetails: {
    /** SECURITY J2: refused before parsing. */
    maxLength: 8192,
    maxCount: 16,
    /** Objects and arrays nested deeper than this are refused. */
    maxDepth: 6,
  },
  ciba: {
    /** CIBA §7.3: the default polling interval. */
    interval: 5,
    defaultExpiry: 300,
    maxExpiry: 600,
    bindingMessageMaxLength: 64,
    deviceSession: 30 * 24 * 3600,
    deviceCookieName: 'palisade_device',
    deviceLoginCookieName: 'palisade_device_login',
    notificationTimeout: 5,
    notificationAttempts: 4,
    sweepInterval: 15,
  },
  audit: {
    checkpointEvery: 100,
    checkpointInterval: 60,
    cookieName: 'palisade_audit',
    loginCookieName: 'palisade_audit_login',
    auditorGroups: ['auditors'],
  },
  clockSkew: 30,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
} as const;
