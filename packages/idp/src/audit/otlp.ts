import type { AuditEvent } from '@palisade/audit';
import type { AuditLogger } from './trail.js';

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { arrayValue: { values: AnyValue[] } };

function value(v: unknown): AnyValue {
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number' && Number.isInteger(v)) return { intValue: String(v) };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(value) } };
  return { stringValue: typeof v === 'string' ? v : JSON.stringify(v) };
}

/** One audit event as an OpenTelemetry log record (OTLP/JSON, logs data model): the event name is the body. */
function logRecord(event: AuditEvent) {
  const attributes = Object.entries({
    'palisade.event.id': event.id,
    'palisade.component': event.component,
    'palisade.outcome': event.outcome,
    'palisade.reason': event.reason,
    'enduser.id': event.sub,
    'palisade.client': event.client,
    'palisade.jti': event.jti,
    'palisade.derived_from': event.derived_from,
    'palisade.reporter': event.reporter,
    'palisade.act': event.act === undefined ? undefined : JSON.stringify(event.act),
    ...Object.fromEntries(Object.entries(event.data ?? {}).map(([k, v]) => [`palisade.data.${k}`, v])),
  })
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: value(v) }));
  return {
    timeUnixNano: `${BigInt(Date.parse(event.time)) * 1_000_000n}`,
    severityNumber: event.outcome === 'failure' ? 13 : 9,
    severityText: event.outcome === 'failure' ? 'WARN' : 'INFO',
    body: { stringValue: event.event },
    attributes,
    ...(event.trace_id ? { traceId: event.trace_id } : {}),
  };
}

/**
 * Copies audit events to an OpenTelemetry collector as OTLP/HTTP JSON logs
 * (`audit.otlp.endpoint`, e.g. http://collector:4318/v1/logs), for SIEMs
 * that read OpenTelemetry. Best effort: the hash chain in the store is the
 * record; a collector that is down loses its copy, and that is logged.
 */
export class OtlpExporter {
  readonly #endpoint: string;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #log: AuditLogger;

  constructor(endpoint: string, headers: Readonly<Record<string, string>>, log: AuditLogger) {
    this.#endpoint = endpoint;
    this.#headers = headers;
    this.#log = log;
  }

  async export(events: readonly AuditEvent[]): Promise<void> {
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'palisade' } }] },
          scopeLogs: [{ scope: { name: 'palisade.audit' }, logRecords: events.map(logRecord) }],
        },
      ],
    };
    try {
      const response = await fetch(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...this.#headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`collector answered ${response.status}`);
    } catch (error) {
      this.#log.warn({ event: 'audit.export_failed', err: error instanceof Error ? error.message : 'unknown' }, 'OTLP export failed');
    }
  }
}
