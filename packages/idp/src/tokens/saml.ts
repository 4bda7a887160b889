import { randomBytes } from 'node:crypto';
import { SignedXml } from 'xml-crypto';
import type { User } from '../realm.js';
import { type Actor, actorsOf } from './act.js';

const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';

/** XML text and attribute escaping for the values Palisade puts into an assertion. */
function xml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function instant(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type ReleasedAttribute = 'name' | 'username' | 'email' | 'groups';

/**
 * Directory attributes a downstream service may learn: what the user's
 * scopes released to the agent (profile: name and username; email: email),
 * plus what the exchange rule releases explicitly (an operator's decision,
 * e.g. groups for the legacy HR tool). Nothing else leaves the directory.
 */
export function releasedAttributes(scope: readonly string[], ruleAttributes: readonly ReleasedAttribute[]): Set<ReleasedAttribute> {
  const released = new Set<ReleasedAttribute>(ruleAttributes);
  if (scope.includes('profile')) {
    released.add('name');
    released.add('username');
  }
  if (scope.includes('email')) released.add('email');
  return released;
}

export interface SamlInput {
  readonly issuer: string;
  readonly audience: string;
  readonly user: User;
  readonly now: number;
  /** NotOnOrAfter: never later than the subject token's expiry (RFC 8693 §2.2.1, SECURITY X11). */
  readonly notOnOrAfter: number;
  readonly authTime: number | undefined;
  readonly acr: string | undefined;
  readonly act: Actor | undefined;
  /** Which directory attributes the user's consent (scopes) and the exchange rule release to this service. */
  readonly attributes: ReadonlySet<ReleasedAttribute>;
  readonly signingKey: { readonly privateKeyPem: string; readonly certificate: string };
}

function attribute(name: string, values: readonly string[]): string {
  if (values.length === 0) return '';
  const inner = values.map((v) => `<saml:AttributeValue>${xml(v)}</saml:AttributeValue>`).join('');
  return `<saml:Attribute Name="${xml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${inner}</saml:Attribute>`;
}

/**
 * A signed SAML 2.0 assertion (SAML Core §2.3) for a legacy service that
 * accepts nothing else: the user as Subject, the service alone in the
 * AudienceRestriction, attributes from the directory, the delegation chain
 * as an attribute, enveloped RSA-SHA256 signature with exclusive c14n and the
 * signing certificate in KeyInfo (xml-crypto).
 */
export function samlAssertion(input: SamlInput): string {
  const id = `_${randomBytes(20).toString('hex')}`;
  const notBefore = instant(input.now - 30);
  const notOnOrAfter = instant(input.notOnOrAfter);
  const released = input.attributes;
  const attributes = [
    released.has('name') ? attribute('name', [input.user.name]) : '',
    released.has('username') ? attribute('username', [input.user.username]) : '',
    released.has('email') && input.user.email ? attribute('email', [input.user.email]) : '',
    released.has('groups') ? attribute('groups', input.user.groups) : '',
    attribute('actors', actorsOf(input.act)),
  ].join('');
  const unsigned =
    `<saml:Assertion xmlns:saml="${SAML}" ID="${id}" IssueInstant="${instant(input.now)}" Version="2.0">` +
    `<saml:Issuer>${xml(input.issuer)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${xml(input.user.sub)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${notOnOrAfter}" Recipient="${xml(input.audience)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${xml(input.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${instant(input.authTime ?? input.now)}"><saml:AuthnContext>` +
    `<saml:AuthnContextClassRef>${xml(input.acr ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified')}</saml:AuthnContextClassRef>` +
    `</saml:AuthnContext></saml:AuthnStatement>` +
    (attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '') +
    `</saml:Assertion>`;

  const certificatePem = `-----BEGIN CERTIFICATE-----\n${input.signingKey.certificate.match(/.{1,64}/g)?.join('\n')}\n-----END CERTIFICATE-----\n`;
  const signature = new SignedXml({
    privateKey: input.signingKey.privateKeyPem,
    publicCert: certificatePem,
    canonicalizationAlgorithm: EXC_C14N,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  signature.addReference({
    xpath: `//*[local-name(.)='Assertion' and @ID='${id}']`,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', EXC_C14N],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  // SAML Core §5.3: the Signature follows the Issuer.
  signature.computeSignature(unsigned, {
    prefix: 'ds',
    location: { reference: "//*[local-name(.)='Issuer']", action: 'after' },
  });
  return signature.getSignedXml();
}
