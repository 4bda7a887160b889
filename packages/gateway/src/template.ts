/**
 * Templates over a tool call's arguments, in the gateway configuration:
 *
 * - a string that is exactly `{name}` becomes the argument's value, whatever
 *   its JSON type; `{name?}` drops the key (or array item) when the argument
 *   is absent;
 * - `{name}` inside a longer string is replaced by the argument as text (a
 *   string, number or boolean); in a URL it is percent-encoded, so an
 *   argument can never add a path segment or a query.
 *
 * Nothing else is evaluated: a template cannot call code or reach anything
 * but the call's own arguments.
 */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}/g;
const WHOLE = /^\{([A-Za-z_][A-Za-z0-9_]*)(\?)?\}$/;

export type Arguments = Readonly<Record<string, unknown>>;

/** A template that could not be filled in: the call lacks an argument it names, or gives one that cannot be used. */
export class MissingArgument extends Error {
  override readonly name = 'MissingArgument';
  constructor(readonly argument: string) {
    super(`the call needs the argument ${argument}`);
  }
}

const DROP = Symbol('drop');

function asText(name: string, value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === undefined) throw new MissingArgument(name);
  throw new MissingArgument(`${name} (as text)`);
}

function fill(template: unknown, args: Arguments, encode: (text: string) => string): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) {
      const [, name = '', optional] = whole;
      const value = Object.hasOwn(args, name) ? args[name] : undefined;
      if (value === undefined) {
        if (optional) return DROP;
        throw new MissingArgument(name);
      }
      return value;
    }
    return template.replace(PLACEHOLDER, (_match, name: string) =>
      encode(asText(name, Object.hasOwn(args, name) ? args[name] : undefined)),
    );
  }
  if (Array.isArray(template)) return template.map((item) => fill(item, args, encode)).filter((item) => item !== DROP);
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(template)) {
      const filled = fill(value, args, encode);
      if (filled !== DROP) out[key] = filled;
    }
    return out;
  }
  return template;
}

/** A JSON template (a body, an authorization detail) filled in with the call's arguments. */
export function render<T>(template: T, args: Arguments): T {
  return fill(template, args, (text) => text) as T;
}

/**
 * A URL template: each argument percent-encoded as one path segment or query
 * value. `.` and `..` are refused: no encoding stops a URL parser from
 * treating them as dot segments (`/finance/..` is `/`).
 */
export function renderUrl(template: string, args: Arguments): string {
  return fill(template, args, (text) => {
    if (text === '.' || text === '..') throw new MissingArgument(`${text} (not a name)`);
    return encodeURIComponent(text);
  }) as string;
}

/** The arguments a template names. */
export function placeholders(template: unknown): Set<string> {
  const names = new Set<string>();
  const walk = (value: unknown): void => {
    if (typeof value === 'string') for (const match of value.matchAll(PLACEHOLDER)) names.add(match[1] ?? '');
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(template);
  return names;
}

/** Start-up check: a template may only name declared arguments. */
export function templateProblems(template: unknown, declared: ReadonlySet<string>, at: string): string[] {
  return [...placeholders(template)].filter((name) => !declared.has(name)).map((name) => `${at}: {${name}} is not an argument of the tool`);
}

/**
 * The template with every argument-dependent part removed: what any call of
 * the tool needs whatever its arguments (for listing the tools a token could use).
 */
export function staticPart<T>(template: T): Partial<T> {
  const strip = (value: unknown): unknown => {
    if (typeof value === 'string') return placeholders(value).size > 0 ? DROP : value;
    if (Array.isArray(value)) {
      const items = value.map(strip);
      return items.includes(DROP) ? DROP : items;
    }
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        const kept = strip(item);
        if (kept !== DROP) out[key] = kept;
      }
      return out;
    }
    return value;
  };
  return strip(template) as Partial<T>;
}
