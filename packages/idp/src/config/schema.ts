import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

/** Signing algorithms Palisade can generate keys for (jose names). */
export const SIGNING_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof AUTH_METHODS)[number];

export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token'] as const;
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
  /** Resource servers this client may ask tokens for; all configured ones when absent. */
  resources: z.array(absoluteUrl).optional(),
  id_token_signed_response_alg: z.enum(SIGNING_ALGORITHMS).optional(),
  /** First-party clients may skip the consent page. */
  require_consent: z.boolean().default(true),
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

export const configSchema = z.strictObject({
  issuer: absoluteUrl.refine((u) => !u.includes('?') && !u.includes('#'), 'must have no query or fragment (RFC 8414 §2)'),
  listen: z
    .strictObject({
      host: z.string().min(1).default(DEFAULTS.listen.host),
      port: z.coerce.number().int().min(0).max(65535).default(DEFAULTS.listen.port),
    })
    .prefault({}),
  data_dir: z.string().min(1).default(DEFAULTS.dataDir),
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
  users: z.array(user).default([]),
  clients: z.array(client).default([]),
  resource_servers: z.array(resourceServer).default([]),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UserConfig = z.output<typeof user>;
export type ClientConfig = z.output<typeof client>;
export type ResourceServerConfig = z.output<typeof resourceServer>;
