import type { AuditSink } from '@palisade/resource-server';

/** The `protect` option carrying a tool's audit sink, when it has one. */
export function auditOption(options: { readonly audit?: AuditSink }): { audit?: AuditSink } {
  return options.audit ? { audit: options.audit } : {};
}
