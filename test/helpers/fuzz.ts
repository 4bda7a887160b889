/**
 * A small mutation fuzzer for HTTP: real requests as seeds, and mutators
 * that break them the ways attackers and broken clients do (SECURITY J1–J3).
 * Seeded, so a failure can be replayed from the seed it prints.
 */

/** One HTTP request as data: what a mutator may change. */
export interface Seed {
  readonly label: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface Mutant {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** mulberry32: a tiny deterministic PRNG. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
}

const NASTY = [
  '',
  '\u0000',
  '%00',
  '../../../etc/passwd',
  '..%2f..%2f',
  '%2e%2e/',
  '\u202e\u0041\u0042',
  '💥'.repeat(50),
  '\ud800',
  '"><script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '{{7*7}}',
  'null',
  'true',
  '-1',
  '1e309',
  '9'.repeat(400),
  '[]',
  '{}',
  '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
  '%',
  '%zz',
  '\r\nX-Injected: 1',
  'a'.repeat(9000),
];

function randomText(random: Random, max = 64): string {
  const length = random.int(max);
  let out = '';
  for (let i = 0; i < length; i++) {
    const kind = random.int(4);
    out += String.fromCodePoint(
      kind === 0
        ? 0x20 + random.int(95)
        : kind === 1
          ? random.int(0x80)
          : kind === 2
            ? 0x80 + random.int(0x780)
            : 0x1f300 + random.int(0x300),
    );
  }
  return out;
}

/** Flips, drops or inserts characters of a string (bad base64url, broken JSON, truncated tokens). */
function damage(random: Random, text: string): string {
  if (text.length === 0) return random.pick(NASTY);
  const chars = [...text];
  const edits = 1 + random.int(4);
  for (let i = 0; i < edits; i++) {
    const at = random.int(chars.length);
    const op = random.int(4);
    if (op === 0) chars.splice(at, 1);
    else if (op === 1) chars.splice(at, 0, random.pick(['.', '=', '+', '/', '"', '{', '}', ',', '\\', '~', ' ', '%']));
    else if (op === 2) chars[at] = String.fromCharCode(random.int(0x80));
    else chars.length = at;
  }
  return chars.join('');
}

function mutateForm(random: Random, body: string): string {
  const params = [...new URLSearchParams(body)];
  const op = random.int(6);
  if (params.length > 0 && op === 0) params.splice(random.int(params.length), 1);
  else if (params.length > 0 && op === 1) params.push(random.pick(params));
  else if (params.length > 0 && op === 2) {
    const at = random.int(params.length);
    params[at] = [params[at]?.[0] ?? 'x', random.next() < 0.5 ? damage(random, params[at]?.[1] ?? '') : random.pick(NASTY)];
  } else if (op === 3) params.push([randomText(random, 12), randomText(random)]);
  else if (op === 4) return damage(random, body);
  else for (let i = 0; i < 70; i++) params.push([`p${i}`, 'x']);
  return new URLSearchParams(params).toString();
}

function mutateJson(random: Random, body: string): string {
  const op = random.int(5);
  if (op === 0) return damage(random, body);
  if (op === 1) return '['.repeat(5000) + ']'.repeat(5000);
  try {
    const value = JSON.parse(body) as unknown;
    const walk = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(walk);
      if (node !== null && typeof node === 'object') {
        const entries = Object.entries(node).map(([k, v]) => [
          k,
          random.next() < 0.3 ? random.pick<unknown>([random.pick(NASTY), 1e308, -1, null, [], {}, true]) : walk(v),
        ]);
        if (random.next() < 0.2 && entries.length > 0) entries.splice(random.int(entries.length), 1);
        return Object.fromEntries(entries);
      }
      return random.next() < 0.2 ? randomText(random) : node;
    };
    return op === 2
      ? JSON.stringify(walk(value))
      : op === 3
        ? `${body}${body}`
        : JSON.stringify({ jsonrpc: '2.0', id: random.int(10), method: randomText(random, 20) });
  } catch {
    return damage(random, body);
  }
}

/** One mutation of a seed: the body, a header, the URL, the method, or several at once. */
export function mutate(random: Random, seed: Seed): Mutant {
  const mutant: Mutant = {
    label: seed.label,
    method: seed.method,
    url: seed.url,
    headers: { ...seed.headers },
    ...(seed.body !== undefined ? { body: seed.body } : {}),
  };
  const rounds = 1 + random.int(3);
  for (let round = 0; round < rounds; round++) {
    const op = random.int(9);
    const type = mutant.headers['content-type'] ?? '';
    if (op <= 2 && mutant.body !== undefined) {
      mutant.body = type.includes('json') ? mutateJson(random, mutant.body) : mutateForm(random, mutant.body);
    } else if (op === 3) {
      const names = Object.keys(mutant.headers);
      const name = names.length > 0 ? random.pick(names) : 'authorization';
      const value = mutant.headers[name] ?? '';
      mutant.headers[name] =
        random.next() < 0.5
          ? damage(random, value)
          : random.pick(['Bearer', 'DPoP x', 'Basic !!!', 'Bearer a.b', `Bearer ${'A'.repeat(10_000)}`, '']);
    } else if (op === 4) {
      mutant.headers[random.pick(['content-type', 'dpop', 'origin', 'traceparent', 'mcp-session-id', 'mcp-protocol-version', 'accept'])] =
        random.pick([
          'text/plain',
          'application/json',
          'application/x-www-form-urlencoded; charset=utf-16',
          'multipart/form-data; boundary=x',
          'eyJhbGciOiJub25lIn0.e30.',
          'http://evil.example',
          '00-00000000000000000000000000000000-0000000000000000-00',
          randomText(random, 40).replace(/[^\x20-\x7e]/g, ''),
        ]);
    } else if (op === 5) {
      mutant.headers['x-filler'] = 'x'.repeat(random.pick([100, 8_000, 15_000, 20_000]));
    } else if (op === 6) {
      const url = new URL(mutant.url);
      const piece = random.pick([
        '/..',
        '/%2e%2e',
        '//',
        '/%00',
        `/${encodeURIComponent(randomText(random, 16))}`,
        '?access_token=x',
        `?${randomText(random, 20)}`,
      ]);
      mutant.url = `${url.origin}${url.pathname}${piece}${url.search}`;
    } else if (op === 7) {
      mutant.method = random.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    } else {
      delete mutant.headers[random.pick(Object.keys(mutant.headers).concat('content-type'))];
    }
  }
  // fetch refuses bodies on GET and HEAD; send them as POST-less requests instead.
  if ((mutant.method === 'GET' || mutant.method === 'HEAD') && mutant.body !== undefined) delete mutant.body;
  return mutant;
}

/** Raw bytes no HTTP client would send: broken request lines, bad framing, junk. */
export function rawGarbage(random: Random, host: string): string {
  return random.pick([
    `GET / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -1\r\n\r\n`,
    `POST /token HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`,
    `POST /token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n`,
    `${randomText(random, 200)}\r\n\r\n`,
    `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET / HTTP/9.9\r\nHost: ${host}\r\n\r\n`,
    `GET / HTTP/1.1\r\nHost: ${host}\r\nX: ${'\u0000'}\r\n\r\n`,
    `POST /par HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nabc`,
  ]);
}
