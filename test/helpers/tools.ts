import { join } from 'node:path';
import type { AuditSender } from '@palisade/audit';
import { toolAuditSender } from '@palisade/resource-server';
import { createFilesTool, createHrLegacyTool, createPaymentsTool, createReportsTool } from '@palisade/tools-demo';
import type { FastifyInstance } from 'fastify';
import { DEMO } from './idp.js';

export interface TestTools {
  readonly files: string;
  readonly reports: string;
  readonly hr: string;
  readonly payments: string;
  /** The tools' audit senders, when started with `audit` (flush them before reading the trail). */
  readonly senders: Readonly<Record<'files' | 'reports' | 'hr' | 'payments', AuditSender>> | undefined;
  close(): Promise<void>;
}

/** The demo realm's service clients that report to the audit trail. */
export const AUDIT_CLIENTS = {
  files: { id: 'files-service', secret: 'files-service-secret' },
  reports: { id: 'report-service', secret: 'report-service-secret' },
  hr: { id: 'hr-service', secret: 'hr-service-secret' },
  payments: { id: 'payments-service', secret: 'payments-service-secret' },
} as const;

/** The demo tools on ephemeral ports; their audiences stay the demo realm's (an audience is a name, not where it listens). */
export async function startTestTools(issuer: string, now?: () => number, audit?: { readonly bufferDir: string }): Promise<TestTools> {
  const clock = now ? { now } : {};
  const senders = audit
    ? (Object.fromEntries(
        (Object.keys(AUDIT_CLIENTS) as (keyof typeof AUDIT_CLIENTS)[]).map((name) => [
          name,
          toolAuditSender({
            issuer,
            clientId: AUDIT_CLIENTS[name].id,
            clientSecret: AUDIT_CLIENTS[name].secret,
            component: `tool:${name}`,
            bufferFile: join(audit.bufferDir, `audit-${name}.jsonl`),
          }),
        ]),
      ) as Record<keyof typeof AUDIT_CLIENTS, AuditSender>)
    : undefined;
  const sink = (name: keyof typeof AUDIT_CLIENTS) => (senders ? { audit: senders[name] } : {});
  const files = createFilesTool({ issuer, audience: DEMO.tools.files, ...clock, ...sink('files') });
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
    ...sink('reports'),
  });
  const hr = createHrLegacyTool({ issuer, audience: DEMO.tools.hr, ...clock, ...sink('hr') });
  const payments = createPaymentsTool({
    issuer,
    audience: DEMO.tools.payments,
    approvalThresholds: { EUR: '10000.00' },
    ...clock,
    ...sink('payments'),
  });
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
    senders,
    async close() {
      for (const app of apps) await app.close();
      for (const sender of Object.values(senders ?? {})) await sender.close();
    },
  };
}
