import { X509Certificate } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { SignedXml } from 'xml-crypto';
import type { ToolOptions } from './files.js';

const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const CLOCK_SKEW = 30;

const EMPLOYEES: Readonly<Record<string, { name: string; title: string; department: string; manager: string }>> = {
  alice: { name: 'Alice Martin', title: 'Financial controller', department: 'Finance', manager: 'carol' },
  bob: { name: 'Bob Chen', title: 'Platform engineer', department: 'Engineering', manager: 'dave' },
};

class Refused extends Error {}

/**
 * The legacy HR tool (9413): knows nothing of OAuth. It accepts one thing, a
 * signed SAML 2.0 assertion in `Authorization: SAML <base64url>`, verified
 * with xml-crypto against the certificate the IdP publishes (`x5c` in its
 * JWKS): signature over the Assertion that is actually read (no wrapping),
 * Issuer, Audience = this tool, NotBefore / NotOnOrAfter.
 */
export function createHrLegacyTool(options: ToolOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  let certificates: string[] | undefined;

  async function trusted(): Promise<string[]> {
    if (certificates) return certificates;
    const metadata = (await (await fetch(`${options.issuer}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: { x5c?: string[] }[] };
    certificates = jwks.keys.flatMap((k) => (k.x5c?.[0] ? [new X509Certificate(Buffer.from(k.x5c[0], 'base64')).toString()] : []));
    return certificates;
  }

  async function subjectOf(request: FastifyRequest): Promise<string> {
    const match = /^SAML ([A-Za-z0-9_-]+)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1] || match[1].length > 64 * 1024) throw new Refused('a SAML assertion is required');
    const xml = Buffer.from(match[1], 'base64url').toString('utf8');
    const document = new DOMParser().parseFromString(xml, 'text/xml');
    const assertions = document.getElementsByTagNameNS(SAML, 'Assertion');
    const signatures = document.getElementsByTagNameNS(DSIG, 'Signature');
    if (assertions.length !== 1 || signatures.length !== 1 || document.documentElement !== assertions[0])
      throw new Refused('exactly one signed assertion');
    const assertion = assertions[0] as NonNullable<(typeof assertions)[0]>;
    let verified = false;
    for (const certificate of await trusted()) {
      const verifier = new SignedXml({ publicCert: certificate });
      verifier.loadSignature(signatures[0] as NonNullable<(typeof signatures)[0]>);
      try {
        if (!verifier.checkSignature(xml)) continue;
      } catch {
        continue;
      }
      // Signature wrapping: the signed reference must be the very Assertion we read.
      const signed = verifier.getSignedReferences();
      verified = signed.length === 1 && (signed[0] ?? '').includes(`ID="${assertion.getAttribute('ID')}"`);
      if (verified) break;
    }
    if (!verified) throw new Refused('the assertion signature is not valid');
    const text = (tag: string) => assertion.getElementsByTagNameNS(SAML, tag)[0]?.textContent ?? undefined;
    if (text('Issuer') !== options.issuer) throw new Refused('unknown issuer');
    if (text('Audience') !== options.audience) throw new Refused('the assertion is for another audience');
    const conditions = assertion.getElementsByTagNameNS(SAML, 'Conditions')[0];
    const now = options.now ? options.now() : Date.now() / 1000;
    const notBefore = Date.parse(conditions?.getAttribute('NotBefore') ?? '') / 1000;
    const notOnOrAfter = Date.parse(conditions?.getAttribute('NotOnOrAfter') ?? '') / 1000;
    if (!(notBefore - CLOCK_SKEW <= now && now < notOnOrAfter + CLOCK_SKEW)) throw new Refused('the assertion is not valid now');
    const subject = text('NameID');
    if (!subject) throw new Refused('no subject');
    return subject;
  }

  app.get<{ Params: { username: string } }>('/employees/:username', async (request, reply) => {
    let subject: string;
    try {
      subject = await subjectOf(request);
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      return reply
        .code(401)
        .header('www-authenticate', 'SAML realm="hr-legacy"')
        .send({ error: 'invalid_assertion', error_description: error.message });
    }
    const employee = EMPLOYEES[request.params.username];
    // The legacy rule: employees see their own record.
    if (subject !== request.params.username)
      return reply.code(403).send({ error: 'forbidden', error_description: 'employees may read their own record only' });
    if (!employee) return reply.code(404).send({ error: 'not_found' });
    return { username: request.params.username, ...employee };
  });
  return app;
}
