import { AuthorizationResponseError, OperationProcessingError, ResponseBodyError, WWWAuthenticateChallengeError } from 'oauth4webapi';

/**
 * Every error the agent SDK throws is one of three families, each with a
 * stable `code` callers can switch on:
 *
 * - `misuse.*`: the calling code asked for something impossible (no
 *   credentials, an http issuer that is not loopback, a login without a
 *   redirect listener);
 * - `protocol.*`: the server broke the protocol (a response that is not what
 *   OAuth says it must be), as oauth4webapi detected it;
 * - `oauth.<error>`: the server answered with an OAuth error (RFC 6749 §5.2,
 *   RFC 9396, CIBA): `oauth.invalid_client`, `oauth.access_denied`, ….
 */
export abstract class AgentError extends Error {
  abstract readonly family: 'misuse' | 'protocol' | 'oauth';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class MisuseError extends AgentError {
  override readonly name = 'MisuseError';
  readonly family = 'misuse';
  constructor(what: string, message: string) {
    super(`misuse.${what}`, message);
  }
}

export class ProtocolError extends AgentError {
  override readonly name = 'ProtocolError';
  readonly family = 'protocol';
  constructor(what: string, message: string, cause?: unknown) {
    super(`protocol.${what}`, message, { cause });
  }
}

export class ServerOAuthError extends AgentError {
  override readonly name: string = 'ServerOAuthError';
  readonly family = 'oauth';
  constructor(
    readonly error: string,
    readonly status: number,
    readonly description: string | undefined,
  ) {
    super(`oauth.${error}`, `the server refused: ${error}${description ? ` (${description})` : ''}`);
  }
}

/** CIBA: the person said no (`access_denied`). */
export class ApprovalDenied extends ServerOAuthError {
  override readonly name = 'ApprovalDenied';
}

/** CIBA: nobody decided before the request expired (`expired_token`). */
export class ApprovalExpired extends ServerOAuthError {
  override readonly name = 'ApprovalExpired';
}

/** The OAuth error a 401 carries: its JSON body (a token endpoint's invalid_client), else the challenge's `error`. */
async function challengeError(error: WWWAuthenticateChallengeError): Promise<ServerOAuthError> {
  const challenge = error.cause[0]?.parameters;
  let body: { error?: unknown; error_description?: unknown } = {};
  try {
    body = (await error.response.clone().json()) as typeof body;
  } catch {
    // No JSON body: the challenge says it.
  }
  const code = typeof body.error === 'string' ? body.error : (challenge?.error ?? 'invalid_token');
  const description = typeof body.error_description === 'string' ? body.error_description : challenge?.error_description;
  return new ServerOAuthError(code, error.status, description);
}

/** oauth4webapi's errors in the SDK's three families; anything else (a network failure) as it is. */
export async function translate(error: unknown): Promise<unknown> {
  if (error instanceof AgentError) return error;
  if (error instanceof ResponseBodyError) {
    const Kind = error.error === 'access_denied' ? ApprovalDenied : error.error === 'expired_token' ? ApprovalExpired : ServerOAuthError;
    return new Kind(error.error, error.status, error.error_description);
  }
  if (error instanceof WWWAuthenticateChallengeError) return challengeError(error);
  // The IdP sent the person back with an error (RFC 6749 §4.1.2.1): a refusal at consent or policy.
  if (error instanceof AuthorizationResponseError) {
    const Kind = error.error === 'access_denied' ? ApprovalDenied : ServerOAuthError;
    return new Kind(error.error, 400, error.error_description);
  }
  if (error instanceof OperationProcessingError)
    return new ProtocolError(error.code?.toLowerCase() ?? 'invalid_response', error.message, error);
  return error;
}

/** Runs `operation`, rethrowing its errors translated. */
export async function translated<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw await translate(error);
  }
}
