/** A JWT or JWS compact serialization: three base64url parts starting with an encoded '{"'. */
const COMPACT_JWS = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/;
/** A SAML assertion or any XML document. */
const XML = /<\s*(saml2?:)?Assertion\b|<\?xml/i;

/**
 * Defence in depth: an event never stores a token, even if a component
 * mistakenly puts one in a field. Values that look like a JWT or a SAML
 * assertion are replaced; the count says something was removed.
 */
export function redactSecrets<T>(value: T): { value: T; redacted: number } {
  let redacted = 0;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (COMPACT_JWS.test(v) || XML.test(v)) {
        redacted++;
        return '[redacted]';
      }
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, walk(inner)]));
    return v;
  };
  return { value: walk(value) as T, redacted };
}
