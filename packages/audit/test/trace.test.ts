import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newTraceId, parseTraceparent, traceparent } from '../src/trace.js';

describe('trace ids: W3C Trace Context, time first (ADR 0013)', () => {
  it('32 lowercase hex digits, valid in a traceparent, distinct, and later ones sort after earlier ones', async () => {
    const ids = Array.from({ length: 500 }, () => newTraceId());
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) {
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(parseTraceparent(traceparent(id)), id);
    }
    await new Promise((resolve) => setTimeout(resolve, 3));
    const later = newTraceId();
    assert.ok(ids.every((id) => id < later));
    assert.ok(Math.abs(Number.parseInt(later.slice(0, 12), 16) - Date.now()) < 1000);
  });

  it('the 20 digits after the time are random: every hex digit turns up in every position', () => {
    const ids = Array.from({ length: 2000 }, () => newTraceId().slice(12));
    for (let position = 0; position < 20; position++) {
      assert.equal(new Set(ids.map((id) => id[position])).size, 16, `position ${position} is not random`);
    }
  });
});
