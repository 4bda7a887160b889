import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

/** Signing algorithms Palisade can generate keys for (jose names). */
export const SIGNING_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof AUTH_METHODS)[number];

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** OpenID Connect CIBA Core §10.1. */
export const CIBA = 'urn:openid:params:grant-type:ciba';
export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token', TOKEN_EXCHANGE, CIBA] as const;
/** CIBA §5: how a client learns of the user's decision. */
export const DELIVERY_MODES = ['poll', 'ping', 'push'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** RFC 8693 §3 token type identifiers Palisade issues or accepts. */
export const TOKEN_TYPES = {
  access_token: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  id_token: 'urn:ietf:params:oauth:token-type:id_token',
  saml2: 'urn:ietf:params:oauth:token-type:saml2',
} as const;
export type TokenTypeName = keyof typeof TOKEN_TYPES;
export type GrantType = (typeof GRANT_TYPES)[number];

const absoluteUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' });
const seconds = z.number().int().positive();
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 §3.3)');

const jwk = z.looseObject({ kty: z.string() });

const user = z.strictObject({
  username: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9._@-]+$/, 'may contain letters, digits and . _ @ - only'),
  /** The stable subject identifier; the username when absent. */
  sub: z.string().min(1).optional(),
  password_hash: z.string().startsWith('$argon2id$', 'must be an argon2id hash (palisade hash-password)'),
  name: z.string().min(1),
  email: z.email().optional(),
  groups: z.array(z.string().min(1)).default([]),
  /** Base32 TOTP secret (RFC 6238; SHA-1, 6 digits, 30 s), at least 128 bits. */
  totp_secret: z
    .string()
    .regex(/^[A-Z2-7]{26,}=*$/, 'must be base32 of at least 128 bits')
    .optional(),
  /**
   * CIBA §7.1 `user_code`: an argon2id hash of a secret the user gives to
   * agents allowed to ask for approvals; with one set, every backchannel
   * request for this user must carry it (stops unsolicited approval prompts).
   */
  user_code_hash: z.string().startsWith('$argon2id$', 'must be an argon2id hash (palisade hash-password)').optional(),
});

const client = z.strictObject({
  client_id: z
    .string()
    .min(1)
    .regex(/^[\x21-\x7E]+$/, 'must be printable ASCII without spaces'),
  name: z.string().min(1).optional(),
  client_secret: z.string().min(8, 'must be at least 8 characters').optional(),
  jwks: z.strictObject({ keys: z.array(jwk).min(1) }).optional(),
  token_endpoint_auth_method: z.union([z.enum(AUTH_METHODS), z.array(z.enum(AUTH_METHODS)).min(1)]),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1),
  redirect_uris: z.array(absoluteUrl).default([]),
  /** Where RP-Initiated Logout may send the browser afterwards (exact match; loopback on any port). */
  post_logout_redirect_uris: z.array(absoluteUrl).default([]),
  scopes: z.array(scopeToken).default([]),
  /** Scopes a client_credentials request gets when it names none (RFC 6749 §3.3). */
  default_scopes: z.array(scopeToken).default([]),
  /** The audience of tokens when the request names no `resource` (RFC 8707). */
  default_resource: absoluteUrl.optional(),
  /** Resource servers this client may ask tokens for; only `default_resource` when absent. */
  resources: z.array(absoluteUrl).optional(),
  id_token_signed_response_alg: z.enum(SIGNING_ALGORITHMS).optional(),
  /** First-party clients may skip the consent page (never for authorization_details). */
  require_consent: z.boolean().default(true),
  /** RFC 9396 §10: the detail types this client may request. */
  authorization_details_types: z.array(z.string().min(1)).default([]),
  /** RFC 9126 §6: this client must push its authorization requests. */
  require_pushed_authorization_requests: z.boolean().default(false),
  /** RFC 9449 §5.2: every access token of this client is DPoP-bound; a token request without a proof is refused. */
  dpop_bound_access_tokens: z.boolean().default(false),
  /** CIBA §4: poll, ping or push; required with the CIBA grant type. */
  backchannel_token_delivery_mode: z.enum(DELIVERY_MODES).optional(),
  /** CIBA §4: where ping and push notifications go (https, or loopback http when the issuer is loopback). */
  backchannel_client_notification_endpoint: absoluteUrl.optional(),
});

/** A JSON Schema fragment, checked by compiling it with ajv at start-up (cross-check). */
const jsonSchema = z.record(z.string(), z.unknown());

/** RFC 9396 §2 authorization detail type, as an operator declares it. */
const authorizationDetailType = z.strictObject({
  description: z.string().min(1),
  /** Consent and approval wording, e.g. "{actions} {identifier|every file} in {locations}". */
  template: z.string().min(1),
  /** Words for values, per field: `labels.actions.read: Read`. */
  labels: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  /** JSON Schema of each field the type uses; common fields get safe defaults to refine. */
  fields: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a plain field name'), jsonSchema),
  required: z.array(z.string()).default([]),
});

/** Who may be granted what, for one type (RFC 9396 §6 policy). Omitted dimensions are not restricted. */
const authorizationDetailRule = z.strictObject({
  type: z.string().min(1),
  /** Applies to users in any of these groups (never to client_credentials, which has no user). */
  groups: z.array(z.string().min(1)).min(1).optional(),
  /** Applies to these clients. */
  clients: z.array(z.string().min(1)).min(1).optional(),
  /** Patterns; `*` matches any run of characters, everything else matches exactly. */
  locations: z.array(z.string().min(1)).min(1).optional(),
  actions: z.array(z.string().min(1)).min(1).optional(),
  identifiers: z.array(z.string().min(1)).min(1).optional(),
});

/** RFC 8693 exchange policy for one client; a client without a rule cannot exchange at all. */
const exchangeRule = z.strictObject({
  client: z.string().min(1),
  /** Subject tokens must be meant for one of these audiences (which must be this client's own resources). */
  from: z.array(absoluteUrl).min(1),
  /** Audiences the new token may be for. */
  to: z.array(absoluteUrl).min(1),
  /** Scopes that may flow into the new token (a subset of the subject token's). */
  scopes: z.array(scopeToken).default([]),
  /** Ceilings for details that may flow, compared with covers(): `{ type: file_access, actions: [read] }`. */
  authorization_details: z.array(z.looseObject({ type: z.string().min(1) })).default([]),
  /** delegation records the chain in `act` (RFC 8693 §4.1); impersonation issues a token without `act`. */
  mode: z.enum(['delegation', 'impersonation']).default('delegation'),
  max_chain_depth: z.number().int().min(1).max(16).default(4),
  token_types: z
    .array(z.enum(['access_token', 'jwt', 'id_token', 'saml2']))
    .min(1)
    .default(['access_token', 'jwt']),
  /** Directory attributes released in SAML assertions and ID tokens beyond what the subject token's scopes allow. */
  attributes: z.array(z.enum(['name', 'username', 'email', 'groups'])).default([]),
  /** Subject token types accepted; an ID token (issued to this client) only where listed. */
  subject_token_types: z
    .array(z.enum(['access_token', 'jwt', 'id_token']))
    .min(1)
    .default(['access_token', 'jwt']),
  /** Several audiences in one request (one token valid at all of them): off unless said so. */
  multiple_audiences: z.boolean().default(false),
});

const resourceServer = z.strictObject({
  audience: absoluteUrl,
  name: z.string().min(1),
  scopes: z.array(scopeToken).default([]),
  /** The client this resource server authenticates as (introspection, later token exchange). */
  client_id: z.string().min(1).optional(),
});

const lifetimes = z.strictObject({
  access_token: seconds.default(DEFAULTS.tokens.accessToken),
  id_token: seconds.default(DEFAULTS.tokens.idToken),
  authorization_code: seconds.max(60, 'must be at most 60 s (FAPI 2.0)').default(DEFAULTS.tokens.authorizationCode),
  refresh_token: seconds.default(DEFAULTS.tokens.refreshToken),
  refresh_token_idle: seconds.default(DEFAULTS.tokens.refreshTokenIdle),
  session: seconds.default(DEFAULTS.session.lifetime),
  interaction: seconds.default(DEFAULTS.interaction.lifetime),
});

/** Requests per client and per IP address in one rate-limit window. */
function limits(defaults: { perClient: number; perIp: number }) {
  return z
    .strictObject({
      per_client: z.number().int().min(0).default(defaults.perClient),
      per_ip: z.number().int().min(0).default(defaults.perIp),
    })
    .prefault({});
}

export const configSchema = z.strictObject({
  issuer: absoluteUrl.refine((u) => !u.includes('?') && !u.includes('#'), 'must have no query or fragment (RFC 8414 §2)'),
  listen: z
    .strictObject({
      host: z.string().min(1).default(DEFAULTS.listen.host),
      // From YAML a number, from ${VAR} a string of digits; never an empty string silently becoming 0.
      port: z
        .union([z.number(), z.string().regex(/^[0-9]+$/, 'must be a port number')])
        .transform(Number)
        .pipe(z.number().int().min(0).max(65535))
        .default(DEFAULTS.listen.port),
      /** Serve https with this certificate chain and key (PEM files); without it, plain http (TLS ends at a proxy, or loopback). */
      tls: z.strictObject({ cert_file: z.string().min(1), key_file: z.string().min(1) }).optional(),
    })
    .prefault({}),
  data_dir: z.string().min(1).default(DEFAULTS.dataDir),
  /** Where state lives: the embedded SQLite file in data_dir (default), or PostgreSQL shared by many nodes. */
  store: z
    .strictObject({
      postgres: z
        .strictObject({
          url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection URL'),
          /** Apply pending schema migrations at start (safe on every node: they take an advisory lock). */
          migrate_on_start: z.boolean().default(true),
          pool_size: z.number().int().min(1).max(100).default(10),
        })
        .optional(),
    })
    .prefault({}),
  keys: z
    .strictObject({
      algorithms: z
        .array(z.enum(SIGNING_ALGORITHMS))
        .min(1)
        .default([...DEFAULTS.keys.algorithms]),
      reload_interval: seconds.default(DEFAULTS.keys.reloadInterval),
    })
    .prefault({}),
  lifetimes: lifetimes.prefault({}),
  login: z
    .strictObject({
      max_failures: z.number().int().positive().default(DEFAULTS.login.maxFailures),
      lockout: seconds.default(DEFAULTS.login.lockout),
    })
    .prefault({}),
  scopes: z.array(scopeToken).default([...DEFAULTS.scopes]),
  par: z
    .strictObject({
      /** Seconds a request_uri stays redeemable (RFC 9126 §2.2); not a limit on the login that follows. */
      lifetime: seconds.max(600).default(DEFAULTS.par.lifetime),
      /** Every client must use PAR (RFC 9126 §5). */
      required: z.boolean().default(false),
    })
    .prefault({}),
  /** Throttling of the token, PAR and CIBA endpoints (in memory, per node); 0 turns one limit off. */
  rate_limits: z
    .strictObject({
      enabled: z.boolean().default(true),
      window: seconds.min(1).max(3600).default(DEFAULTS.rateLimits.window),
      token: limits(DEFAULTS.rateLimits.token),
      par: limits(DEFAULTS.rateLimits.par),
      backchannel_authentication: limits(DEFAULTS.rateLimits.backchannelAuthentication),
    })
    .prefault({}),
  /** DPoP (RFC 9449): proofs are accepted at the token, PAR and CIBA endpoints and at userinfo. */
  dpop: z
    .strictObject({
      /** The strict profile: every proof must carry a fresh server nonce (RFC 9449 §8). */
      require_nonce: z.boolean().default(false),
      /** Seconds a server nonce stays acceptable; a new one is handed out every half of it. */
      nonce_lifetime: seconds.min(10).max(3600).default(DEFAULTS.dpop.nonceLifetime),
      /** Seconds a proof may be old, by its iat; its jti is remembered that long (RFC 9449 §11.1). */
      proof_max_age: seconds.min(5).max(600).default(DEFAULTS.dpop.proofMaxAge),
    })
    .prefault({}),
  ciba: z
    .strictObject({
      /** Seconds a poll-mode client waits between polls (CIBA §7.3); slow_down adds 5 to it for that request. */
      interval: seconds.max(60).default(DEFAULTS.ciba.interval),
      /** Seconds a request waits for the user when the client names no `requested_expiry`. */
      default_expiry: seconds.default(DEFAULTS.ciba.defaultExpiry),
      /** The longest `requested_expiry` accepted. */
      max_expiry: seconds.max(3600).default(DEFAULTS.ciba.maxExpiry),
      /** Characters a `binding_message` may have (CIBA §7.1: short enough for a phone screen). */
      binding_message_max_length: z.number().int().min(8).max(256).default(DEFAULTS.ciba.bindingMessageMaxLength),
      /** How long the authentication device stays signed in. */
      device_session: seconds.default(DEFAULTS.ciba.deviceSession),
      /** Seconds one ping or push delivery attempt may take. */
      notification_timeout: seconds.max(60).default(DEFAULTS.ciba.notificationTimeout),
      /** Delivery attempts after network errors or 5xx (backoff doubles from 1 s); never after a 4xx. */
      notification_attempts: z.number().int().min(1).max(10).default(DEFAULTS.ciba.notificationAttempts),
      /** Seconds between sweeps that expire requests whose timer was lost and resume notifications a stopped node left. */
      sweep_interval: seconds.max(300).default(DEFAULTS.ciba.sweepInterval),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Sign a checkpoint of the audit chain after this many records… */
      checkpoint_every: z.number().int().min(1).max(100_000).default(DEFAULTS.audit.checkpointEvery),
      /** …or after this many seconds with unvouched records. */
      checkpoint_interval: seconds.max(3600).default(DEFAULTS.audit.checkpointInterval),
      /** A copy of every event to an OpenTelemetry collector (OTLP/HTTP JSON logs), e.g. http://collector:4318/v1/logs. */
      otlp: z
        .strictObject({
          endpoint: absoluteUrl,
          /** Extra request headers, e.g. an API key from the environment: `{ authorization: "${OTEL_TOKEN}" }`. */
          headers: z.record(z.string(), z.string()).default({}),
        })
        .optional(),
      /** Users in any of these groups may read the trail at /audit. */
      auditor_groups: z.array(z.string().min(1)).default([...DEFAULTS.audit.auditorGroups]),
    })
    .prefault({}),
  /**
   * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25):
   * a client whose id is an https URL on an allowed host is described by the JSON document at that URL.
   * Such clients are public (PKCE), always ask for consent, and get only what this policy allows.
   */
  client_id_metadata_documents: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Hosts documents may be fetched from: exact names, or `*.example.com` for subdomains. Nothing else is fetched. */
      allowed_hosts: z.array(z.string().regex(/^(\*\.)?[A-Za-z0-9.-]+(:[0-9]+)?$/, 'must be a host name, optionally *.suffix')).default([]),
      /** Extra trusted certificate authorities (PEM file), for documents served under an internal PKI. */
      ca_file: z.string().min(1).optional(),
      max_bytes: z.number().int().min(256).max(65_536).default(5120),
      timeout_ms: z.number().int().min(100).max(10_000).default(3000),
      /** Seconds a fetched document is reused before it is fetched again. */
      cache_seconds: seconds.max(86_400).default(300),
      /** What such clients may get: the most a document can ask for. */
      scopes: z.array(scopeToken).default([]),
      resources: z.array(absoluteUrl).default([]),
      authorization_details_types: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  authorization_details_types: z
    .record(z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'must be a simple type name'), authorizationDetailType)
    .default({}),
  authorization_details_policy: z.array(authorizationDetailRule).default([]),
  token_exchange: z.strictObject({ rules: z.array(exchangeRule).default([]) }).prefault({}),
  users: z.array(user).default([]),
  clients: z.array(client).default([]),
  resource_servers: z.array(resourceServer).default([]),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UserConfig = z.output<typeof user>;
export type ClientConfig = z.output<typeof client>;
export type ResourceServerConfig = z.output<typeof resourceServer>;
export type AuthorizationDetailTypeConfig = z.output<typeof authorizationDetailType>;
export type AuthorizationDetailRuleConfig = z.output<typeof authorizationDetailRule>;
export type ExchangeRuleConfig = z.output<typeof exchangeRule>;
