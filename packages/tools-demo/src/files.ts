import { InvalidRequest, NotFound } from '@palisade/core';
import { type AuditSink, requireDetail, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { auditOption } from './audit-option.js';

/** Seeded documents: small, real text, in two folders. */
const SEED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  finance: {
    'Q4-report.pdf': 'Q4 2026 financial report. Revenue 12.4 M EUR (+8% YoY). Operating margin 18%. Cash 4.1 M EUR. Outlook: stable.',
    'budget-2027.xlsx': 'Budget 2027 draft: engineering 3.2 M EUR, sales 2.1 M EUR, operations 1.4 M EUR.',
  },
  engineering: {
    'architecture.md': '# Architecture\nServices talk through the MCP gateway; every hop exchanges its token.',
  },
};

export interface ToolOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Seconds since the epoch; tests pass the IdP's clock. */
  readonly now?: () => number;
  /** Where each allow/deny decision goes (the IdP's audit trail, through toolAuditSender). */
  readonly audit?: AuditSink;
}

/** A file name as the type's schema allows it: a literal name, never a path (ADR 0005). */
function checkName(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters in names is the point (path injection).
  if (name === '.' || name === '..' || /[/\\%\u0000-\u001f]/.test(name)) throw InvalidRequest('not a file name');
  return name;
}

/**
 * The files tool (9410): list, read, write and delete documents in folders.
 * Each route requires a `file_access` detail for exactly its folder, action
 * and (for single files) file name — a broader detail covers it, a
 * `tools.access` scope never does.
 */
export function createFilesTool(options: ToolOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
  const verifier = new TokenVerifier({ issuer: options.issuer, audience: options.audience, ...(options.now ? { now: options.now } : {}) });
  const folders = new Map(Object.entries(SEED).map(([folder, files]) => [folder, new Map(Object.entries(files))]));
  const location = (folder: string) => `${options.audience.replace(/\/$/, '')}/${folder}`;
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  protect(app, verifier, { name: 'Finance file server', authorizationDetailsTypes: ['file_access'] }, auditOption(options));

  const folderOf = (name: string) => {
    const folder = folders.get(name);
    if (!folder) throw NotFound('no such folder');
    return folder;
  };

  app.get<{ Params: { folder: string } }>('/:folder/', async (request) => {
    requireDetail(tokenOf(request), { type: 'file_access', locations: [location(request.params.folder)], actions: ['read'] });
    return { folder: request.params.folder, files: [...folderOf(request.params.folder).keys()] };
  });

  app.get<{ Params: { folder: string; name: string } }>('/:folder/:name', async (request, reply) => {
    const { folder, name } = request.params;
    requireDetail(tokenOf(request), { type: 'file_access', locations: [location(folder)], actions: ['read'], identifier: checkName(name) });
    const content = folderOf(folder).get(name);
    if (content === undefined) throw NotFound('no such file');
    const token = tokenOf(request);
    // Who asked, on whose behalf, through whom (RFC 8693 §4.1): shown to the caller, for the demo and for audit.
    return reply
      .header('x-palisade-subject', token.sub)
      .header('x-palisade-actors', token.actors.join(' '))
      .type('text/plain')
      .send(content);
  });

  app.put<{ Params: { folder: string; name: string }; Body: string }>('/:folder/:name', async (request, reply) => {
    const { folder, name } = request.params;
    requireDetail(tokenOf(request), {
      type: 'file_access',
      locations: [location(folder)],
      actions: ['write'],
      identifier: checkName(name),
    });
    folderOf(folder).set(name, String(request.body ?? ''));
    return reply.code(204).send();
  });

  app.delete<{ Params: { folder: string; name: string } }>('/:folder/:name', async (request, reply) => {
    const { folder, name } = request.params;
    requireDetail(tokenOf(request), {
      type: 'file_access',
      locations: [location(folder)],
      actions: ['delete'],
      identifier: checkName(name),
    });
    if (!folderOf(folder).delete(name)) throw NotFound('no such file');
    return reply.code(204).send();
  });
  return app;
}
