/**
 * Canonical JSON (the RFC 8785 rules that matter for audit events): object
 * members sorted by key, no whitespace, `undefined` members dropped, strings
 * and numbers as JSON.stringify writes them. The same event always encodes
 * to the same bytes, so its hash can be recomputed by anyone, in any
 * language, from the stored text.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite numbers have no JSON form');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}
