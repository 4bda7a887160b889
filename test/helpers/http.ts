import assert from 'node:assert/strict';

/** A JSON answer of the IdP, read whole. */
export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Record<string, unknown>;
}

export type Form = string | Record<string, string> | [string, string][];

export async function call(url: string, init: RequestInit): Promise<Reply> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** A form POST exactly as given: fetch adds only Content-Type (application/x-www-form-urlencoded). */
export function post(url: string, form: Form, authorization?: string): Promise<Reply> {
  return call(url, { method: 'POST', headers: authorization === undefined ? {} : { authorization }, body: new URLSearchParams(form) });
}

/** client_secret_basic (RFC 6749 §2.3.1: form-encode, join with a colon, base64). */
export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** The status and OAuth `error` code, asserted together so a failure shows both. */
export function expectError(reply: Reply, status: number, error: string): void {
  assert.deepEqual({ status: reply.status, error: reply.body.error }, { status, error }, JSON.stringify(reply.body));
}

/** A string member of the JSON body, which must be there. */
export function field(reply: Reply, name: string): string {
  const value = reply.body[name];
  assert.ok(typeof value === 'string', `${name} missing from ${reply.status} ${JSON.stringify(reply.body)}`);
  return value;
}
