import type { FastifyBaseLogger } from 'fastify';
import type { AuditTrail } from '../audit/trail.js';
import { type DeliveryPolicy, Notifier } from './notify.js';

/**
 * The live side of CIBA on one node: who is watching a user's pending
 * requests (the device page's event stream), the notifier, and the timers
 * that expire requests on time. State that matters lives in the store; this
 * only makes things prompt. Other nodes' changes reach a device through its
 * periodic re-read (device/events.ts).
 */
export class Backchannel {
  readonly notifier: Notifier;
  readonly #listeners = new Map<string, Set<() => void>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #shutdown = new AbortController();

  constructor(log: FastifyBaseLogger, audit: AuditTrail, delivery: DeliveryPolicy) {
    this.notifier = new Notifier(log, audit, delivery, this.#shutdown.signal);
  }

  get closed(): boolean {
    return this.#shutdown.signal.aborted;
  }

  /** Calls `listener` whenever this user's requests change on this node; returns the unsubscribe function. */
  subscribe(sub: string, listener: () => void): () => void {
    const set = this.#listeners.get(sub) ?? new Set();
    set.add(listener);
    this.#listeners.set(sub, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(sub);
    };
  }

  changed(sub: string): void {
    for (const listener of this.#listeners.get(sub) ?? []) listener();
  }

  /** Runs `task` after `seconds`, unless the node closes first. */
  later(seconds: number, task: () => Promise<void>): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void task();
    }, Math.max(0, seconds) * 1000);
    timer.unref();
    this.#timers.add(timer);
  }

  close(): void {
    this.#shutdown.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#listeners.clear();
  }
}
