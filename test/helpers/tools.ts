import { createFilesTool, createHrLegacyTool, createPaymentsTool, createReportsTool } from '@palisade/tools-demo';
import type { FastifyInstance } from 'fastify';
import { DEMO } from './idp.js';

export interface TestTools {
  readonly files: string;
  readonly reports: string;
  readonly hr: string;
  readonly payments: string;
  close(): Promise<void>;
}

/** The demo tools on ephemeral ports; their audiences stay the demo realm's (an audience is a name, not where it listens). */
export async function startTestTools(issuer: string, now?: () => number): Promise<TestTools> {
  const clock = now ? { now } : {};
  const files = createFilesTool({ issuer, audience: DEMO.tools.files, ...clock });
  await files.listen({ host: '127.0.0.1', port: 0 });
  const filesUrl = `http://127.0.0.1:${(files.server.address() as { port: number }).port}`;
  const reports = createReportsTool({
    issuer,
    audience: DEMO.tools.reports,
    filesAudience: DEMO.tools.files,
    filesUrl,
    clientId: DEMO.reportService.id,
    clientSecret: DEMO.reportService.secret,
    ...clock,
  });
  const hr = createHrLegacyTool({ issuer, audience: DEMO.tools.hr, ...clock });
  const payments = createPaymentsTool({ issuer, audience: DEMO.tools.payments, approvalThresholds: { EUR: '10000.00' }, ...clock });
  const apps: FastifyInstance[] = [files, reports, hr, payments];
  await payments.listen({ host: '127.0.0.1', port: 0 });
  await reports.listen({ host: '127.0.0.1', port: 0 });
  await hr.listen({ host: '127.0.0.1', port: 0 });
  const url = (app: FastifyInstance) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return {
    files: filesUrl,
    reports: url(reports),
    hr: url(hr),
    payments: url(payments),
    async close() {
      for (const app of apps) await app.close();
    },
  };
}
