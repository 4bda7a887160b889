import { AuditSender } from '@palisade/audit';
import { ServiceClient } from './client-credentials.js';

export interface ToolAuditOptions {
  readonly issuer: string;
  /** The service's client at the IdP, allowed the audit resource (scope audit.write). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** How this service appears in the trail: `tool:files`. */
  readonly component: string;
  /** Where events wait while the IdP is unreachable (recommended: a file in the service's data directory). */
  readonly bufferFile?: string;
  readonly onError?: (message: string) => void;
}

/** An AuditSender for a service: client-credentials tokens for `<issuer>/audit`, events to `<issuer>/audit/events`. */
export function toolAuditSender(options: ToolAuditOptions): AuditSender {
  const base = options.issuer.replace(/\/$/, '');
  const client = new ServiceClient(options);
  return new AuditSender({
    endpoint: `${base}/audit/events`,
    component: options.component,
    // Delivery happens in the background, whichever request's event started it: it is not part of that trace.
    token: ({ refresh }) => client.ownToken({ resource: `${base}/audit`, scope: 'audit.write', refresh }),
    ...(options.bufferFile ? { bufferFile: options.bufferFile } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}
