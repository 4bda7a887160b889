import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestEqual, randomToken, sha256, timeOrderedId } from '../src/random.js';

describe('randomToken: pooled CSPRNG bytes, each served once', () => {
  it('gives the asked entropy, base64url, and never the same value twice across many pool refills', () => {
    const seen = new Set<string>();
    // 16-byte values through 20 pools of 4096 bytes, with odd sizes in between so slices straddle refills.
    for (let i = 0; i < 5000; i++) {
      for (const bytes of [16, 32, 7]) {
        const value = randomToken(bytes);
        assert.match(value, /^[A-Za-z0-9_-]+$/);
        assert.equal(Buffer.from(value, 'base64url').length, bytes);
        assert.ok(!seen.has(value), 'a value came out twice');
        seen.add(value);
      }
    }
  });

  it('large values come straight from the CSPRNG; the default is 256 bits', () => {
    assert.equal(Buffer.from(randomToken(), 'base64url').length, 32);
    assert.equal(Buffer.from(randomToken(100), 'base64url').length, 100);
  });

  it('the pool is not biased: every byte value turns up, about equally often', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4096; i++) for (const byte of Buffer.from(randomToken(32), 'base64url')) counts[byte] = (counts[byte] ?? 0) + 1;
    // 131,072 bytes: 512 expected per value; a fair source stays far inside these bounds.
    assert.ok(Math.min(...counts) > 380 && Math.max(...counts) < 650, `${Math.min(...counts)}–${Math.max(...counts)}`);
  });
});

describe('digestEqual: digests compared in constant time without rehashing', () => {
  it('equal digests match; a different digest or length does not', () => {
    assert.equal(digestEqual(sha256('secret'), sha256('secret')), true);
    assert.equal(digestEqual(sha256('secret'), sha256('Secret')), false);
    assert.equal(digestEqual(sha256('secret'), sha256('secret').slice(1)), false);
    assert.equal(digestEqual('', sha256('secret')), false);
  });
});

describe('timeOrderedId: unique ids that sort by when they were made (ADR 0013)', () => {
  it('an id made in a later millisecond sorts after one made earlier; ids of one millisecond still differ', async () => {
    const first = Array.from({ length: 200 }, () => timeOrderedId());
    assert.equal(new Set(first).size, first.length);
    await new Promise((resolve) => setTimeout(resolve, 3));
    const later = timeOrderedId();
    assert.ok(first.every((id) => id < later));
    // 12 hex digits of the millisecond, then 80 random bits.
    assert.match(later, /^[0-9a-f]{12}[A-Za-z0-9_-]{14}$/);
    assert.ok(Math.abs(Number.parseInt(later.slice(0, 12), 16) - Date.now()) < 1000);
  });
});
