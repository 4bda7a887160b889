import { InvalidRequest } from '@palisade/core';
import type { FastifyRequest } from 'fastify';
import { DEFAULTS } from '../config/defaults.js';

export type Params<K extends string> = { readonly [P in K]?: string };

/**
 * Reads the parameters an endpoint recognizes from a URLSearchParams.
 * - OAuth 2.1 §3.1: a parameter sent more than once is an error.
 * - RFC 6749 §3.1: a parameter without a value is treated as omitted.
 * - Unrecognized parameters are ignored (OAuth 2.1 §3.1), duplicates included;
 *   recognized ones longer than `http.maxParameterLength` are refused (SECURITY J2).
 */
export function readParams<K extends string>(source: URLSearchParams, recognized: readonly K[]): Params<K> {
  const out: Partial<Record<K, string>> = {};
  for (const name of recognized) {
    const values = source.getAll(name);
    if (values.length > 1) throw InvalidRequest(`the ${name} parameter is repeated`);
    const value = values[0];
    // SECURITY J2: no parameter an endpoint reads needs this much; refused before any work on it.
    if (value !== undefined && value.length > DEFAULTS.http.maxParameterLength) throw InvalidRequest(`the ${name} parameter is too long`);
    if (value !== undefined && value !== '') out[name] = value;
  }
  return out;
}

/**
 * The form body of a back-channel POST (token, introspection, revocation, PAR).
 * OAuth 2.1 §3.2: parameters go in an application/x-www-form-urlencoded body,
 * never in the query string (SECURITY T16, J3).
 */
export function formBody(request: FastifyRequest): URLSearchParams {
  if (!(request.body instanceof URLSearchParams)) {
    throw InvalidRequest('the request body must be application/x-www-form-urlencoded');
  }
  if (request.url.includes('?')) throw InvalidRequest('parameters must not be sent in the query string');
  return request.body;
}

/** Space-delimited scope (RFC 6749 §3.3) as a list without repeats. */
export function splitScope(scope: string | undefined): string[] {
  if (scope === undefined) return [];
  return [...new Set(scope.split(' ').filter((s) => s !== ''))];
}
