import type { AuditLogger } from '@palisade/idp';

/** The CLI's own trouble goes to stderr as one line each. */
export const stderrLogger: AuditLogger = {
  warn: (object: unknown, message?: string) => process.stderr.write(`warning: ${message ?? ''} ${JSON.stringify(object)}\n`),
  error: (object: unknown, message?: string) => process.stderr.write(`error: ${message ?? ''} ${JSON.stringify(object)}\n`),
} as AuditLogger;
