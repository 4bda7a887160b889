/**
 * The actor chain of a delegated token (RFC 8693 §4.1): `act.sub` is the
 * current actor, `act.act` the one before it, and so on. Only the outermost
 * (current) actor and the top-level claims are for authorization decisions;
 * the nested ones are history, for audit (RFC 8693 §4.1).
 */
export interface Actor {
  readonly sub: string;
  readonly act?: Actor;
}

/** Actor subjects, current first. */
export function actorsOf(act: Actor | undefined): string[] {
  const out: string[] = [];
  for (let current = act; current; current = current.act) out.push(current.sub);
  return out;
}

/** A new current actor in front of an existing chain. */
export function nestActor(sub: string, previous: Actor | undefined): Actor {
  return previous ? { sub, act: previous } : { sub };
}

/** Reads an untrusted `act` claim shape (from a verified token) without trusting its structure. */
export function readActor(value: unknown, depthLimit = 16): Actor | undefined {
  if (value === undefined) return undefined;
  if (depthLimit === 0 || value === null || typeof value !== 'object') throw new TypeError('malformed act claim');
  const { sub, act } = value as { sub?: unknown; act?: unknown };
  if (typeof sub !== 'string') throw new TypeError('malformed act claim');
  const inner = readActor(act, depthLimit - 1);
  return inner ? { sub, act: inner } : { sub };
}
