import { InvalidRequest } from '@palisade/core';
import { DpopKey, requireDetail, TokenExchanger, TokenVerifier } from '@palisade/resource-server';
import { protect, tokenOf } from '@palisade/resource-server/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { auditOption } from './audit-option.js';
import type { ToolOptions } from './files.js';

const SCHEDULES = [
  { report: 'Q4-report.pdf', folder: 'finance', every: 'quarter', next: '2027-01-05' },
  { report: 'budget-2027.xlsx', folder: 'finance', every: 'year', next: '2027-11-15' },
] as const;

export interface ReportsOptions extends ToolOptions {
  /** The files tool's audience. */
  readonly filesAudience: string;
  /** Where the files tool listens (its audience by default). */
  readonly filesUrl?: string;
  /** The reports service's own client at the IdP, for token exchange. */
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * Ask the IdP whether each token is still active (RFC 7662, 30 s cache):
   * the reports tool reads finance data, so a revoked token should stop
   * working within seconds, not at its expiry.
   */
  readonly introspect?: boolean;
}

/**
 * The reports tool (9411): `POST /summaries {folder, name}` summarises one
 * report. It needs the file, so it exchanges the caller's token for a
 * files-audience token narrowed to reading exactly that file (RFC 8693), and
 * calls the files tool with it: the files tool sees the user as `sub` and
 * this service as the current actor.
 */
export function createReportsTool(options: ReportsOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  const verifier = new TokenVerifier({
    issuer: options.issuer,
    audience: options.audience,
    ...(options.now ? { now: options.now } : {}),
    ...(options.introspect ? { introspection: { clientId: options.clientId, clientSecret: options.clientSecret } } : {}),
  });
  const exchanger = new TokenExchanger({
    issuer: options.issuer,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ...(options.now ? { now: options.now } : {}),
    // Sender-constraint survives this hop too: the files token is bound to a key only this process holds (RFC 9449).
    dpop: DpopKey.generate(options.now ? { now: options.now } : {}),
  });
  protect(app, verifier, { name: 'Reports service', authorizationDetailsTypes: ['file_access', 'tool_access'] }, auditOption(options));

  // When each recurring report is produced: operational data an autonomous agent (ops-bot) may read with a
  // tool_access detail for exactly this action — no user, no files (ARCHITECTURE flow 1).
  app.get('/schedules', async (request) => {
    requireDetail(tokenOf(request), { type: 'tool_access', locations: [options.audience], actions: ['reports.schedules'] });
    return { schedules: SCHEDULES };
  });

  app.post<{ Body: { folder?: unknown; name?: unknown } }>('/summaries', async (request, reply) => {
    const { folder, name } = request.body ?? {};
    if (typeof folder !== 'string' || typeof name !== 'string' || !/^[a-z]+$/.test(folder))
      throw InvalidRequest('folder and name are required');
    const read = {
      type: 'file_access',
      locations: [`${options.filesAudience.replace(/\/$/, '')}/${folder}`],
      actions: ['read'],
      identifier: name,
    };
    // The caller must have been granted this read; the reports tool then asks for exactly that, nothing more.
    const token = tokenOf(request);
    requireDetail(token, read);
    const filesUrl = (options.filesUrl ?? options.filesAudience).replace(/\/$/, '');
    const response = await exchanger.fetch(token, options.filesAudience, `${filesUrl}/${folder}/${encodeURIComponent(name)}`, {
      authorizationDetails: [read],
    });
    if (!response.ok) return reply.code(502).send({ error: 'upstream_refused', status: response.status });
    const content = await response.text();
    const words = content.split(/\s+/).filter(Boolean);
    return {
      folder,
      name,
      summary: content.split(/(?<=\.)\s/)[0] ?? '',
      words: words.length,
      // What the files tool saw: the user, and the chain that acted for them.
      readAs: {
        subject: response.headers.get('x-palisade-subject'),
        actors: (response.headers.get('x-palisade-actors') ?? '').split(' ').filter(Boolean),
      },
    };
  });
  return app;
}
