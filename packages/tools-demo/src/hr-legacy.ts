import { X509Certificate } from 'node:crypto';
import { parseTraceparent } from '@palisade/audit';
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
 * JWKS). Every field is read from the signed content itself, by fixed
 * paths, each element exactly once: nothing outside the signature (or inside
 * the Signature element, which the enveloped transform leaves out) counts.
 */
export function createHrLegacyTool(options: ToolOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  let certificates: { list: string[]; fetchedAt: number } | undefined;
  const CERTIFICATE_TTL = 300;

  /** The IdP's certificates (`x5c` in its JWKS), re-read every few minutes and once more when a signature fails (key rotation). */
  async function trusted(refresh = false): Promise<string[]> {
    const now = Date.now() / 1000;
    if (certificates && !refresh && now - certificates.fetchedAt < CERTIFICATE_TTL) return certificates.list;
    if (certificates && refresh && now - certificates.fetchedAt < CLOCK_SKEW) return certificates.list;
    const metadata = (await (await fetch(`${options.issuer}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string };
    const jwks = (await (await fetch(metadata.jwks_uri)).json()) as { keys: { x5c?: string[] }[] };
    const list = jwks.keys.flatMap((k) => (k.x5c?.[0] ? [new X509Certificate(Buffer.from(k.x5c[0], 'base64')).toString()] : []));
    certificates = { list, fetchedAt: now };
    return list;
  }

  /** The canonical XML the signature covers, when one of the IdP's certificates verifies it; nothing outside it is ever read. */
  async function signedContent(xml: string, signature: Node): Promise<string | undefined> {
    for (const refresh of [false, true]) {
      for (const certificate of await trusted(refresh)) {
        const verifier = new SignedXml({ publicCert: certificate });
        verifier.loadSignature(signature);
        try {
          if (!verifier.checkSignature(xml)) continue;
        } catch {
          continue;
        }
        const signed = verifier.getSignedReferences();
        if (signed.length === 1 && signed[0]) return signed[0];
      }
    }
    return undefined;
  }

  /** The one direct child of `parent` with this SAML name; refuses duplicates (no "first match anywhere"). */
  function onlyChild(parent: Element, name: string): Element {
    const matches = Array.from(parent.childNodes).filter(
      (n): n is Element => n.nodeType === 1 && (n as Element).namespaceURI === SAML && (n as Element).localName === name,
    );
    if (matches.length !== 1) throw new Refused(`the assertion must have exactly one ${name}`);
    return matches[0] as Element;
  }

  async function subjectOf(request: FastifyRequest): Promise<string> {
    const match = /^SAML ([A-Za-z0-9_-]+)$/.exec(request.headers.authorization ?? '');
    if (!match?.[1] || match[1].length > 64 * 1024) throw new Refused('a SAML assertion is required');
    const xml = Buffer.from(match[1], 'base64url').toString('utf8');
    // No DTDs at all: no entity tricks (XXE, expansion), nothing to resolve.
    if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new Refused('DTDs are not accepted');
    // An empty or broken document is the caller's fault, never a 500 (found by the fuzz test).
    let document: ReturnType<DOMParser['parseFromString']> | undefined;
    try {
      document =
        xml.trim() === ''
          ? undefined
          : new DOMParser({ errorHandler: { warning: () => undefined, error: () => undefined } }).parseFromString(xml, 'text/xml');
    } catch {
      document = undefined;
    }
    if (!document) throw new Refused('the assertion is not well-formed XML');
    const signatures = document.getElementsByTagNameNS(DSIG, 'Signature');
    const root = document.documentElement;
    if (!root || root.namespaceURI !== SAML || root.localName !== 'Assertion' || signatures.length !== 1) {
      throw new Refused('exactly one signed assertion');
    }
    const signed = await signedContent(xml, signatures[0] as Node);
    if (!signed) throw new Refused('the assertion signature is not valid');
    // Read only what the signature covers (the enveloped transform leaves the Signature out, so
    // anything smuggled inside it is not here), by fixed paths, each element exactly once.
    const assertion = new DOMParser().parseFromString(signed, 'text/xml').documentElement;
    if (assertion?.localName !== 'Assertion' || assertion.getAttribute('ID') !== root.getAttribute('ID')) {
      throw new Refused('the signature does not cover this assertion');
    }
    if (onlyChild(assertion, 'Issuer').textContent !== options.issuer) throw new Refused('unknown issuer');
    const conditions = onlyChild(assertion, 'Conditions');
    const audiences = Array.from(onlyChild(conditions, 'AudienceRestriction').childNodes).filter((n) => n.nodeType === 1);
    if (audiences.length !== 1 || audiences[0]?.textContent !== options.audience)
      throw new Refused('the assertion is for another audience');
    const now = options.now ? options.now() : Date.now() / 1000;
    const notBefore = Date.parse(conditions.getAttribute('NotBefore') ?? '') / 1000;
    const notOnOrAfter = Date.parse(conditions.getAttribute('NotOnOrAfter') ?? '') / 1000;
    if (!(notBefore - CLOCK_SKEW <= now && now < notOnOrAfter + CLOCK_SKEW)) throw new Refused('the assertion is not valid now');
    const subject = onlyChild(onlyChild(assertion, 'Subject'), 'NameID').textContent;
    if (!subject) throw new Refused('no subject');
    return subject;
  }

  // Decisions go to the audit trail as for every tool; the user is the assertion's subject.
  const subjects = new WeakMap<FastifyRequest, string>();
  const audit = options.audit;
  if (audit) {
    app.addHook('onResponse', async (request, reply) => {
      const allowed = reply.statusCode < 400;
      const sub = subjects.get(request);
      const traceId = parseTraceparent(request.headers.traceparent);
      audit.send({
        event: allowed ? 'tool.call_allowed' : 'tool.call_denied',
        outcome: allowed ? 'success' : 'failure',
        ...(allowed ? {} : { reason: `http_${reply.statusCode}` }),
        ...(sub ? { sub } : {}),
        ...(traceId ? { trace_id: traceId } : {}),
        data: {
          tool: options.audience,
          operation: `${request.method} ${request.routeOptions.url ?? ''}`,
          status: reply.statusCode,
          credential: 'saml2',
        },
      });
    });
  }

  app.get<{ Params: { username: string } }>('/employees/:username', async (request, reply) => {
    let subject: string;
    try {
      subject = await subjectOf(request);
      subjects.set(request, subject);
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
