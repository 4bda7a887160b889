/** Seconds since the epoch. Injected everywhere time matters, so tests can move it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Math.floor(Date.now() / 1000) };

/** A clock tests can set and advance; expiry is tested without waiting. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = Math.floor(Date.now() / 1000)) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advance(seconds: number): void {
    this.#now += seconds;
  }
}
