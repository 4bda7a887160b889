import { type AuthorizationDetail, InvalidAuthorizationDetails, jsonDepth } from '@palisade/core';
import { DEFAULTS } from '../config/defaults.js';

const { maxLength, maxCount, maxDepth } = DEFAULTS.authorizationDetails;

/**
 * The `authorization_details` parameter as it arrives (RFC 9396 §2): a JSON
 * array of objects, each with a string `type`. Size is checked before parsing
 * and depth before any schema work (SECURITY J2, D2). Returns undefined when
 * the parameter is absent.
 */
export function parseAuthorizationDetails(raw: string | undefined): unknown[] | undefined {
  if (raw === undefined) return undefined;
  if (raw.length > maxLength) throw InvalidAuthorizationDetails('authorization_details is too large');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw InvalidAuthorizationDetails('authorization_details is not valid JSON');
  }
  if (!Array.isArray(parsed)) throw InvalidAuthorizationDetails('authorization_details must be a JSON array');
  if (parsed.length === 0) throw InvalidAuthorizationDetails('authorization_details must not be empty');
  if (parsed.length > maxCount) throw InvalidAuthorizationDetails('authorization_details has too many entries');
  if (jsonDepth(parsed, maxDepth) > maxDepth) throw InvalidAuthorizationDetails('authorization_details is nested too deeply');
  parsed.forEach((entry, i) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw InvalidAuthorizationDetails(`authorization_details[${i}] must be an object`);
    }
    if (typeof (entry as { type?: unknown }).type !== 'string') {
      throw InvalidAuthorizationDetails(`authorization_details[${i}] must have a string type`);
    }
  });
  return parsed;
}

/** The details a response or token carries, serialized once (RFC 9396 §7). */
export function detailsClaim(details: readonly AuthorizationDetail[] | undefined): { authorization_details?: AuthorizationDetail[] } {
  return details && details.length > 0 ? { authorization_details: [...details] } : {};
}
