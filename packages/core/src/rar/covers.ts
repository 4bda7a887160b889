import { type AuthorizationDetail, type JsonValue, SET_FIELDS } from './detail.js';

const SET_FIELD_NAMES: ReadonlySet<string> = new Set(SET_FIELDS);

type JsonObject = { readonly [key: string]: JsonValue };

function isObject(value: JsonValue | undefined): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Structural equality of two JSON values: exact strings, numbers, key sets and array order. */
function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    const right: readonly JsonValue[] = b;
    return a.length === right.length && a.every((item: JsonValue, i: number) => sameJson(item, right[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key], b[key]));
  }
  return false;
}

/** One granted detail covers one required detail. */
function detailCovers(granted: AuthorizationDetail, required: AuthorizationDetail): boolean {
  if (granted.type !== required.type) return false;
  for (const [field, grantedValue] of Object.entries(granted)) {
    if (field === 'type' || grantedValue === undefined) continue;
    const requiredValue = required[field];
    // The grant restricts this field; a requirement silent on it asks for more than was granted.
    if (requiredValue === undefined) return false;
    if (SET_FIELD_NAMES.has(field) && Array.isArray(grantedValue) && Array.isArray(requiredValue)) {
      if (!requiredValue.every((item) => typeof item === 'string' && grantedValue.includes(item))) return false;
    } else if (!sameJson(grantedValue, requiredValue)) {
      return false;
    }
  }
  return true;
}

/**
 * The one definition of "this authorization covers that action", used by the
 * IdP (refresh and exchange narrowing, remembered consent), the gateway and
 * every resource server.
 *
 * `required` is covered when ONE granted detail covers it on its own (details
 * are never combined: a location from one and an action from another would
 * grant something nobody approved). A granted detail covers a required one when
 * - the `type`s are equal;
 * - for every field the grant sets: the requirement sets it too, and
 *   - for `locations`, `actions`, `datatypes`, `privileges`: every required
 *     element is one of the granted elements (a subset);
 *   - for any other field (`identifier`, type-specific fields, nested
 *     objects): the values are the same JSON value;
 * - a field the grant does not set is not restricted by the grant
 *   (RFC 9396 §2: fields narrow a detail; absent means no narrowing).
 *
 * Every comparison is exact and case-sensitive, with no normalisation of URLs,
 * paths, Unicode or numbers: `read` ≠ `Read`, `http://a/x` ≠ `http://a/x/`,
 * `"123.50"` ≠ `"123.5"`. Normalising here would let two components disagree.
 *
 * @example
 * covers(
 *   [{ type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read', 'write'] }],
 *   { type: 'file_access', locations: ['http://127.0.0.1:9410/finance'], actions: ['read'], identifier: 'Q4-report.pdf' },
 * ); // true
 */
export function covers(granted: readonly AuthorizationDetail[], required: AuthorizationDetail): boolean {
  return granted.some((detail) => detailCovers(detail, required));
}

/** Every required detail is covered (RFC 9396 §6: a token request may only narrow). */
export function coversAll(granted: readonly AuthorizationDetail[], required: readonly AuthorizationDetail[]): boolean {
  return required.every((detail) => covers(granted, detail));
}

const COMMON_FIELDS: ReadonlySet<string> = new Set(['type', 'locations', 'actions', 'datatypes', 'identifier', 'privileges']);

/**
 * Narrowing at the token endpoint (refresh, code exchange, token exchange):
 * each requested detail must be covered, and may add only the RFC 9396 §2.2
 * common fields, which narrow. A type-specific field the grant does not have
 * (a remittance text, a second account) is content nobody approved, so a
 * requested detail carrying one is not "within" the grant.
 */
export function withinGrant(granted: readonly AuthorizationDetail[], requested: readonly AuthorizationDetail[]): boolean {
  return requested.every((r) =>
    granted.some((g) => detailCovers(g, r) && Object.keys(r).every((field) => COMMON_FIELDS.has(field) || Object.hasOwn(g, field))),
  );
}

/** The same detail, field for field (remembered consent: "the same details were approved before"). */
export function sameDetail(a: AuthorizationDetail, b: AuthorizationDetail): boolean {
  return sameJson(a as unknown as JsonValue, b as unknown as JsonValue);
}
