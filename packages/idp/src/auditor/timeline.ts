import type { AuditEvent } from '@palisade/audit';

/** The people and services a trace went through, as a tree rooted at the user (earliest actor first). */
export interface ChainNode {
  readonly label: string;
  readonly children: ChainNode[];
}

/** RFC 8693 `act` nesting → actors, earliest first: {sub: c, act: {sub: b, act: {sub: a}}} → [a, b, c]. */
export function actorsOf(act: unknown): string[] {
  const chain: string[] = [];
  let current = act as { sub?: unknown; act?: unknown } | undefined;
  for (let depth = 0; current && typeof current === 'object' && depth < 16; depth++) {
    if (typeof current.sub === 'string') chain.unshift(current.sub);
    current = current.act as typeof current;
  }
  return chain;
}

function child(node: ChainNode, label: string): ChainNode {
  let found = node.children.find((c) => c.label === label);
  if (!found) {
    found = { label, children: [] };
    node.children.push(found);
  }
  return found;
}

/**
 * The delegation tree of one trace: for every event naming a user, the path
 * user → each actor of its `act` chain (earliest first) → the client that
 * held the token, ending at the tool that decided, with its decision.
 */
export function delegationTree(events: readonly AuditEvent[]): ChainNode[] {
  const roots: ChainNode = { label: '', children: [] };
  for (const event of events) {
    if (!event.sub || !event.act) continue;
    let node = child(roots, event.sub);
    for (const actor of actorsOf(event.act)) node = child(node, actor);
    if (event.event === 'tool.call_allowed' || event.event === 'tool.call_denied') {
      const tool = String(event.data?.tool ?? event.component);
      child(node, `${tool} · ${event.event === 'tool.call_allowed' ? 'allowed' : 'denied'} ${String(event.data?.operation ?? '')}`.trim());
    }
  }
  return roots.children;
}

export interface TraceGroup {
  readonly traceId: string | undefined;
  readonly events: AuditEvent[];
  readonly last: string;
}

/** Events grouped by trace, each trace's events in time order, the most recent trace first. */
export function groupByTrace(events: readonly AuditEvent[]): TraceGroup[] {
  const groups = new Map<string, AuditEvent[]>();
  for (const event of events) {
    const key = event.trace_id ?? `event:${event.id}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  return [...groups.entries()]
    .map(([key, list]) => {
      const sorted = [...list].sort((a, b) => a.time.localeCompare(b.time));
      return { traceId: key.startsWith('event:') ? undefined : key, events: sorted, last: sorted.at(-1)?.time ?? '' };
    })
    .sort((a, b) => b.last.localeCompare(a.last));
}
