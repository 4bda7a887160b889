import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import forge from 'node-forge';

/** Years a signing key's certificate is valid; the key is rotated long before (ADR 0003). */
const VALIDITY_YEARS = 5;

/**
 * A self-signed X.509 certificate for an RSA signing key, so that SAML
 * relying parties (which know certificates, not JWKs) can verify assertions
 * (issue 4). Published as `x5c` on the key in the JWKS (RFC 7517 §4.7); the
 * certificate only binds the key to this issuer: trust comes from the JWKS,
 * not from a CA. Returns base64 DER.
 */
export function selfSignedCertificate(keys: { privateJwk: JWK; publicJwk: JWK }, issuer: string, now: number): string {
  const privatePem = createPrivateKey({ key: keys.privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const publicPem = createPublicKey({ key: keys.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // A positive serial (RFC 5280 §4.1.2.2): clear the top bit.
  certificate.serialNumber = `0${randomBytes(16).toString('hex').slice(1)}`;
  certificate.validity.notBefore = new Date(now * 1000 - 60_000);
  certificate.validity.notAfter = new Date(certificate.validity.notBefore);
  certificate.validity.notAfter.setUTCFullYear(certificate.validity.notAfter.getUTCFullYear() + VALIDITY_YEARS);
  const name = [
    { name: 'commonName', value: new URL(issuer).host },
    { name: 'organizationName', value: 'Palisade signing key' },
  ];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.setExtensions([{ name: 'keyUsage', critical: true, digitalSignature: true }]);
  certificate.sign(forge.pki.privateKeyFromPem(privatePem), forge.md.sha256.create());
  return forge.util.encode64(forge.asn1.toDer(forge.pki.certificateToAsn1(certificate)).getBytes());
}
