import { randomUUID } from 'node:crypto';
import {
  type AuditDraft,
  type AuditEvent,
  CHECKPOINT_TYPE,
  type CheckpointClaims,
  canonicalJson,
  chainHash,
  GENESIS,
  redactSecrets,
} from '@palisade/audit';
import type { Clock } from '@palisade/core';
import type { Store } from '@palisade/store';
import type { FastifyBaseLogger } from 'fastify';
import { CompactSign } from 'jose';
import type { ParsedConfig, SigningAlgorithm } from '../config/schema.js';
import type { Keystore } from '../keys/keystore.js';
import type { RequestContext } from './context.js';
import { OtlpExporter } from './otlp.js';

/** Where the trail reports its own trouble: the server's logger, or the CLI's stderr. */
export type AuditLogger = Pick<FastifyBaseLogger, 'warn' | 'error'>;

export interface CheckpointPolicy {
  /** Sign a checkpoint once this many records were appended since the last one. */
  readonly every: number;
  /** …or this many seconds passed with records unvouched for. */
  readonly interval: number;
}

/**
 * The IdP's side of the audit trail: events are queued as they happen and
 * appended in batches to the store's hash chain (one append per turn of the
 * event loop, like the store's group commit), and the chain's end is signed
 * as a checkpoint every `every` records or `interval` seconds, with the
 * IdP's signing key. Events from other components arrive through the
 * ingestion endpoint and join the same chain.
 */
export class AuditTrail {
  readonly #store: Store;
  readonly #keystore: Keystore;
  readonly #issuer: string;
  readonly #clock: Clock;
  readonly #log: AuditLogger;
  readonly #policy: CheckpointPolicy;
  readonly #alg: SigningAlgorithm;
  /** Who this process is in the trail: `idp`, or `cli` for administrative commands. */
  readonly #component: string;
  #queue: AuditEvent[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #scheduled = false;
  #end: { seq: number; hash: string } | undefined;
  #checkpointed = 0;
  #checkpointedAt: number;
  #timer: NodeJS.Timeout | undefined;
  /** Copies to an OpenTelemetry collector, where configured. */
  #exporter: OtlpExporter | undefined;

  constructor(
    store: Store,
    keystore: Keystore,
    issuer: string,
    clock: Clock,
    log: AuditLogger,
    policy: CheckpointPolicy & { readonly alg: SigningAlgorithm; readonly component?: string },
  ) {
    this.#alg = policy.alg;
    this.#component = policy.component ?? 'idp';
    this.#store = store;
    this.#keystore = keystore;
    this.#issuer = issuer;
    this.#clock = clock;
    this.#log = log;
    this.#policy = policy;
    this.#checkpointedAt = clock.now();
  }

  readonly #observers: ((event: AuditEvent) => void)[] = [];

  /** Calls `observer` with every event as it is recorded (metrics count them). */
  observe(observer: (event: AuditEvent) => void): void {
    this.#observers.push(observer);
  }

  /** Events recorded but not yet in the store. */
  get backlog(): number {
    return this.#queue.length;
  }

  exportTo(exporter: OtlpExporter): void {
    this.#exporter = exporter;
  }

  /** Starts the periodic checkpoint, and learns where the last one was. */
  async start(): Promise<void> {
    this.#checkpointed = (await this.#store.auditCheckpoints()).at(-1)?.seq ?? 0;
    this.#timer = setInterval(() => void this.checkpointIfDue().catch((e: unknown) => this.#failed('checkpoint', e)), 1000);
    this.#timer.unref();
  }

  /** Records an event from this process; the trace comes from `request`, the request being served (`ctx.request`). */
  record(draft: AuditDraft, request?: RequestContext): void {
    this.append({
      ...draft,
      component: draft.component ?? this.#component,
      ...(draft.trace_id === undefined && request ? { trace_id: request.traceId } : {}),
    });
  }

  /** Queues a complete event (ingested ones keep their own component and trace). */
  append(event: Omit<AuditEvent, 'id' | 'time'> & { id?: string; time?: string }): void {
    const { value, redacted } = redactSecrets({ id: randomUUID(), time: new Date().toISOString(), ...event } as AuditEvent);
    if (redacted > 0)
      this.#log.warn({ event: 'audit.redacted', fields: redacted }, 'a secret-looking value was kept out of the audit trail');
    this.#queue.push(value);
    for (const observer of this.#observers) observer(value);
    if (!this.#scheduled) {
      this.#scheduled = true;
      // A microtask, not a later turn: the append joins the store's group commit of this turn (one WAL commit, not two).
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#flushing = this.#flushing.then(() => this.#flush());
      });
    }
  }

  /** Resolves once every event recorded so far is in the store. */
  async flush(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.#flushing;
    if (this.#queue.length > 0) {
      this.#flushing = this.#flushing.then(() => this.#flush());
      await this.#flushing;
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.flush();
    await this.checkpoint().catch((e: unknown) => this.#failed('checkpoint', e));
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    try {
      const entries = batch.map((event) => ({
        entry: canonicalJson(event),
        index: {
          time: Date.parse(event.time),
          event: event.event,
          traceId: event.trace_id ?? null,
          sub: event.sub ?? null,
          client: event.client ?? null,
          outcome: event.outcome,
        },
      }));
      this.#end = await this.#store.appendAudit(entries, chainHash, GENESIS);
      if (this.#exporter) void this.#exporter.export(batch);
      if (this.#end.seq - this.#checkpointed >= this.#policy.every) await this.checkpoint();
    } catch (error) {
      // Not lost: back to the front of the queue, tried again with the next batch.
      this.#queue = [...batch, ...this.#queue];
      this.#failed('append', error);
    }
  }

  async checkpointIfDue(): Promise<void> {
    if (this.#end && this.#end.seq > this.#checkpointed && this.#clock.now() - this.#checkpointedAt >= this.#policy.interval) {
      await this.checkpoint();
    }
  }

  /** Signs the current end of the chain (this node's view of it). */
  async checkpoint(): Promise<void> {
    const end = this.#end;
    if (!end || end.seq <= this.#checkpointed) return;
    const { kid, alg, key } = this.#keystore.signingKey(this.#alg);
    const iat = this.#clock.now();
    const claims: CheckpointClaims = { iss: this.#issuer, seq: end.seq, hash: end.hash, iat };
    const signature = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg, kid, typ: CHECKPOINT_TYPE })
      .sign(key);
    await this.#store.addAuditCheckpoint({ seq: end.seq, hash: end.hash, signature, createdAt: iat });
    this.#checkpointed = end.seq;
    this.#checkpointedAt = iat;
  }

  #failed(what: string, error: unknown): void {
    this.#log.error({ event: 'audit.failed', step: what, err: String(error) }, 'audit trail write failed');
  }
}

/** The trail of a realm: checkpoints as configured, signed with the access-token algorithm's key. */
export async function openAuditTrail(
  store: Store,
  config: ParsedConfig,
  keystore: Keystore,
  clock: Clock,
  log: AuditLogger,
  component = 'idp',
): Promise<AuditTrail> {
  const trail = new AuditTrail(store, keystore, config.issuer, clock, log, {
    every: config.audit.checkpoint_every,
    interval: config.audit.checkpoint_interval,
    alg: config.keys.algorithms[0] ?? 'ES256',
    component,
  });
  const otlp = config.audit.otlp;
  if (otlp) trail.exportTo(new OtlpExporter(otlp.endpoint, otlp.headers, log));
  await trail.start();
  return trail;
}
