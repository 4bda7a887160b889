/**
 * The audit event catalogue: every event any Palisade component records,
 * named `<entity>.<past-tense-verb>`, with what its `data` holds.
 * docs/audit-events.md describes each; a test keeps the two in step.
 */
export const AUDIT_EVENTS = {
  'user.authenticated': { description: 'A person proved who they are', data: { method: 'pwd | otp', app: 'signin | device' } },
  'user.authentication_failed': {
    description: 'A password or TOTP code was wrong',
    data: { method: 'pwd | otp', app: 'signin | device', user_hash: 'first 16 characters of SHA-256 of the username typed' },
  },
  'user.locked_out': {
    description: 'An attempt was refused because of too many failures',
    data: { method: 'pwd | otp | user_code', user_hash: 'as above' },
  },
  'user.signed_out': { description: 'An SSO session or a device session ended', data: { app: 'signin | device' } },
  'consent.granted': { description: 'A person allowed a client', data: { scope: 'granted scopes' } },
  'consent.denied': { description: 'A person refused a client', data: {} },
  'consent.withdrawn': { description: 'A consent was taken back, and its grants revoked', data: { grants_revoked: 'count' } },
  'authorization_code.issued': { description: 'A code went back to a client', data: { grant_id: 'the grant the code belongs to' } },
  'authorization_code.reused': { description: 'A code was redeemed twice: its grant was revoked', data: { grant_id: 'the revoked grant' } },
  'par.pushed': { description: 'A client pushed an authorization request (RFC 9126)', data: { scope: 'requested scopes' } },
  'token.issued': {
    description: 'An access token was issued',
    data: {
      grant_type: 'how',
      audience: 'aud',
      scope: 'scope',
      grant_id: 'grant, if any',
      dpop_jkt: 'the key it is bound to (RFC 9449), if any',
    },
  },
  'token.exchanged': {
    description: 'A token was issued by token exchange (RFC 8693)',
    data: { audience: 'aud', token_type: 'issued token type', scope: 'scope', dpop_jkt: 'the key it is bound to (RFC 9449), if any' },
  },
  'token.introspected': { description: 'A resource server asked whether a token is active', data: { active: 'true | false' } },
  'token.revoked': { description: 'A token was revoked (RFC 7009)', data: { token_type_hint: 'as sent' } },
  'refresh_token.reused': {
    description: 'A rotated refresh token came back: its family was revoked',
    data: { grant_id: 'the revoked grant' },
  },
  'grant.revoked': {
    description: 'A grant and every token of it were revoked',
    data: { grant_id: 'grant', cause: 'logout | consent | reuse | push_undelivered' },
  },
  'client.authentication_failed': { description: 'A client failed to authenticate', data: { endpoint: 'path' } },
  'request.rejected': {
    description: 'A protocol request was refused with an OAuth error',
    data: { endpoint: 'path', error: 'error code', status: 'HTTP status' },
  },
  'request.throttled': {
    description: 'A client or address went over its rate limit (the first refusal of a burst)',
    data: { endpoint: 'path', scope: 'client | ip', limit: 'requests per window', window: 'seconds' },
  },
  'form.refused': { description: 'A page form was refused: cross-site, forged or without its token', data: { path: 'path' } },
  'ciba.requested': {
    description: 'A client asked for a backchannel approval',
    data: { request: 'public request id', mode: 'poll | ping | push', binding_message: 'as shown' },
  },
  'ciba.approved': { description: 'The user approved on the authentication device', data: { request: 'public request id', acr: 'level' } },
  'ciba.denied': { description: 'The user denied on the authentication device', data: { request: 'public request id' } },
  'ciba.expired': { description: 'A backchannel request expired undecided', data: { request: 'public request id' } },
  'ciba.notification_sent': {
    description: 'One ping or push delivery attempt',
    data: { request: 'public request id', kind: 'ping | push | push_error', attempt: 'number', status: 'HTTP status, if any' },
  },
  'ciba.notification_failed': {
    description: 'A notification was given up, or its tokens revoked',
    data: { request: 'public request id', kind: 'ping | push | push_error' },
  },
  'ciba.user_code_refused': {
    description: 'A backchannel request carried a wrong user code, or came while locked',
    data: { reason: 'wrong | locked | too long' },
  },
  'audit.queried': { description: 'An auditor read the trail', data: { filters: 'the filters used, as name=value' } },
  'key.rotated': { description: 'Signing keys were rotated', data: { kids: 'new key ids' } },
  'tool.call_allowed': { description: 'A tool accepted a call', data: { tool: 'audience', operation: 'what was called' } },
  'tool.call_denied': {
    description: 'A tool refused a call',
    data: { tool: 'audience', operation: 'what was called', error: 'error code' },
  },
} as const satisfies Record<string, { description: string; data: Record<string, string> }>;

export type AuditEventName = keyof typeof AUDIT_EVENTS;

type DataValue = string | number | boolean | readonly string[];

/**
 * One audit event. Identifiers only, never a secret: a token's `jti`, never
 * the token; a hash of a username someone typed, never the password.
 */
export interface AuditEvent {
  /** Random id (UUID v4). */
  readonly id: string;
  /** ISO 8601, UTC, milliseconds. */
  readonly time: string;
  /** Who recorded it: `idp`, `gateway`, `tool:files`, … */
  readonly component: string;
  readonly event: AuditEventName;
  readonly outcome: 'success' | 'failure';
  /** Why, for a failure: an error code or a policy reason. */
  readonly reason?: string;
  /** W3C Trace Context trace-id (32 hex digits), shared by every hop of one call. */
  readonly trace_id?: string;
  /** The user, as the token's `sub` (or the client, for agents acting for themselves). */
  readonly sub?: string;
  readonly client?: string;
  /** RFC 8693 `act`: the chain of actors, innermost the earliest. */
  readonly act?: unknown;
  readonly jti?: string;
  /** The `jti` of the token this one was exchanged from. */
  readonly derived_from?: string;
  readonly authorization_details?: readonly unknown[];
  readonly data?: Readonly<Record<string, DataValue>>;
  /** For events sent by another process: the client that authenticated to deliver it (set by the IdP). */
  readonly reporter?: string;
}

/** What a component says; the audit trail adds id, time, component and trace. */
export type AuditDraft = Omit<AuditEvent, 'id' | 'time' | 'component' | 'reporter'> & { readonly component?: string };
