import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AuditDraft, AuditEvent } from './events.js';
import { redactSecrets } from './redact.js';

export interface AuditSenderOptions {
  /** The IdP's ingestion endpoint, `<issuer>/audit/events`. */
  readonly endpoint: string;
  /** Who this process is in the trail: `tool:files`, `gateway`, … */
  readonly component: string;
  /** An access token for the audit resource (client credentials, scope audit.write); asked again after a 401. */
  readonly token: (options: { refresh: boolean }) => Promise<string>;
  /**
   * A file where events wait until the IdP has them (JSON Lines, mode 0600).
   * Every event is written there before anything else happens, so a crash or
   * an IdP outage loses nothing; events left from a previous run go first.
   */
  readonly bufferFile?: string;
  /** Milliseconds between delivery attempts while events wait (doubling after failures, up to 30 s). */
  readonly interval?: number;
  /** Events per request. */
  readonly batch?: number;
  readonly onError?: (message: string) => void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Sends a component's audit events to the IdP's ingestion endpoint, in
 * order, at least once (the IdP drops repeats by event id, so exactly once
 * in the trail). While the IdP is unreachable, events wait in the buffer
 * file and are delivered, oldest first, when it is back.
 */
export class AuditSender {
  readonly #options: Required<Omit<AuditSenderOptions, 'bufferFile' | 'onError'>> & Pick<AuditSenderOptions, 'bufferFile' | 'onError'>;
  #queue: AuditEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #delay: number;
  #closed = false;

  constructor(options: AuditSenderOptions) {
    this.#options = { interval: 200, batch: 100, ...options };
    this.#delay = this.#options.interval;
    const file = options.bufferFile;
    if (file && existsSync(file)) {
      this.#queue = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as AuditEvent];
          } catch {
            // A line cut short by a crash mid-write is the only thing that can be lost, and only its own event.
            options.onError?.('a partial line in the audit buffer was skipped');
            return [];
          }
        });
    } else if (file) {
      writeFileSync(file, '', { mode: 0o600 });
    }
    if (this.#queue.length > 0) this.#schedule(0);
  }

  /** Events not yet acknowledged by the IdP. */
  get pending(): number {
    return this.#queue.length;
  }

  send(draft: AuditDraft): void {
    if (this.#closed) return;
    const { value } = redactSecrets({
      id: randomUUID(),
      time: new Date().toISOString(),
      ...draft,
      component: draft.component ?? this.#options.component,
    } as AuditEvent);
    if (this.#options.bufferFile) appendFileSync(this.#options.bufferFile, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    this.#queue.push(value);
    this.#schedule(this.#options.interval);
  }

  /** Tries to deliver everything now; resolves when the queue is empty or an attempt failed. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0) {
      if (!(await this.#deliverOnce())) return;
    }
  }

  /** Stops; whatever the IdP has not acknowledged stays in the buffer file for the next start. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#sending;
    await this.flush();
  }

  #schedule(delay: number): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sending = this.#run().finally(() => {
        this.#sending = undefined;
      });
    }, delay);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    const delivered = await this.#deliverOnce();
    this.#delay = delivered ? this.#options.interval : Math.min(this.#delay * 2, MAX_BACKOFF_MS);
    if (this.#queue.length > 0) this.#schedule(delivered ? 0 : this.#delay);
  }

  /** One request with the oldest events; true when the IdP acknowledged them. */
  async #deliverOnce(): Promise<boolean> {
    const batch = this.#queue.slice(0, this.#options.batch);
    if (batch.length === 0) return true;
    try {
      let response = await this.#post(batch, false);
      if (response.status === 401) response = await this.#post(batch, true);
      if (response.status >= 400 && response.status < 500 && response.status !== 401 && response.status !== 429) {
        // The IdP will never take this batch: keeping it would stop every later event. Say so loudly.
        this.#options.onError?.(`the IdP refused ${batch.length} audit events (${response.status}); they were dropped`);
      } else if (!response.ok) {
        throw new Error(`ingestion answered ${response.status}`);
      }
    } catch (error) {
      this.#options.onError?.(`audit delivery failed, will retry: ${error instanceof Error ? error.message : 'unknown'}`);
      return false;
    }
    this.#queue = this.#queue.slice(batch.length);
    this.#rewriteBuffer();
    return true;
  }

  async #post(batch: readonly AuditEvent[], refresh: boolean): Promise<Response> {
    const token = await this.#options.token({ refresh });
    const response = await fetch(this.#options.endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return response;
  }

  /** The buffer holds exactly what is still unacknowledged (written aside, then renamed into place). */
  #rewriteBuffer(): void {
    const file = this.#options.bufferFile;
    if (!file) return;
    const next = `${file}.next`;
    writeFileSync(next, this.#queue.map((event) => `${JSON.stringify(event)}\n`).join(''), { mode: 0o600 });
    renameSync(next, file);
  }
}
