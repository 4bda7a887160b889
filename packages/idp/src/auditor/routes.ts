import type { AuditEvent } from '@palisade/audit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { serving } from '../audit/context.js';
import { AUDIT_APP } from '../console/app.js';
import { currentConsole } from '../console/session.js';
import { consolePage, consoleSignIn, showSignIn } from '../console/signin.js';
import type { IdpContext } from '../context.js';
import { type AuditFilters, auditPage, notAuditorPage, SINCE_CHOICES } from './pages.js';
import { delegationTree, groupByTrace } from './timeline.js';

const SINCE_MS: Readonly<Record<(typeof SINCE_CHOICES)[number], number>> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
/** Events read per search, and traces shown: enough for an investigation, bounded for the page. */
const MAX_EVENTS = 5000;
const MAX_TRACES = 50;

type Query = Partial<Record<'user' | 'client' | 'tool' | 'outcome' | 'trace' | 'since', string>>;

/** The search form's values, each bounded and checked; anything else is dropped rather than echoed. */
function filtersOf(query: Query): AuditFilters {
  const text = (value: string | undefined) => (value && value.length <= 256 && value.trim() !== '' ? value.trim() : undefined);
  const since = (SINCE_CHOICES as readonly string[]).includes(query.since ?? '') ? (query.since as AuditFilters['since']) : '24h';
  const trace = query.trace && /^[0-9a-f]{32}$/.test(query.trace.trim()) ? query.trace.trim() : undefined;
  const outcome = query.outcome === 'success' || query.outcome === 'failure' ? query.outcome : undefined;
  const user = text(query.user);
  const client = text(query.client);
  const tool = text(query.tool);
  return {
    since,
    ...(user ? { user } : {}),
    ...(client ? { client } : {}),
    ...(tool ? { tool } : {}),
    ...(outcome ? { outcome } : {}),
    ...(trace ? { trace } : {}),
  };
}

/** A tool filter matches the reporting component (`tool:files`) or the audience the event names. */
function atTool(event: AuditEvent, tool: string): boolean {
  return event.component === `tool:${tool}` || event.component === tool || String(event.data?.tool ?? '').includes(tool);
}

/**
 * The auditor's view of the trail (issue 9): a read-only page at /audit for
 * users in `audit.auditor_groups`, with its own sign-in. A search by user,
 * client, tool, outcome, trace and period shows each matching trace as a
 * timeline, with the delegation chain as an indented tree. Each search is
 * itself an audit event.
 */
export function auditorRoutes(app: FastifyInstance, idp: IdpContext): void {
  const auditorGroups = new Set(idp.realm.config.audit.auditor_groups);
  consoleSignIn(app, idp, AUDIT_APP);

  app.get(AUDIT_APP.path, async (request: FastifyRequest<{ Querystring: Query }>, reply) => {
    const ctx = serving(idp, request);
    const session = await currentConsole(ctx, AUDIT_APP, request);
    if (!session) return showSignIn(ctx, AUDIT_APP, request, reply);
    const user = ctx.realm.usersBySub.get(session.sub);
    if (!user?.groups.some((group) => auditorGroups.has(group))) {
      return consolePage(reply, notAuditorPage(session.csrf, user?.username ?? session.sub), 403);
    }
    const filters = filtersOf(request.query);
    const rows = await ctx.store.readAudit({
      since: Date.now() - SINCE_MS[filters.since as keyof typeof SINCE_MS],
      ...(filters.user ? { sub: filters.user } : {}),
      ...(filters.client ? { client: filters.client } : {}),
      ...(filters.outcome ? { outcome: filters.outcome } : {}),
      ...(filters.trace ? { traceId: filters.trace } : {}),
      limit: MAX_EVENTS,
    });
    let events = rows.map((row) => JSON.parse(row.entry) as AuditEvent);
    if (filters.tool) events = events.filter((event) => atTool(event, filters.tool as string));
    // A matching event pulls in its whole trace, so the chain is seen in full, not just the matching hop.
    const traceIds = [...new Set(events.map((e) => e.trace_id).filter((t): t is string => t !== undefined))].slice(-MAX_TRACES);
    const whole = new Map<string, AuditEvent[]>();
    for (const traceId of traceIds) {
      whole.set(
        traceId,
        (await ctx.store.readAudit({ traceId, limit: MAX_EVENTS })).map((row) => JSON.parse(row.entry) as AuditEvent),
      );
    }
    const untraced = events.filter((e) => e.trace_id === undefined);
    const groups = groupByTrace([...[...whole.values()].flat(), ...untraced]);
    ctx.audit.record(
      {
        event: 'audit.queried',
        outcome: 'success',
        sub: session.sub,
        data: { filters: Object.entries(filters).map(([name, value]) => `${name}=${value}`) },
      },
      ctx.request,
    );
    return consolePage(
      reply,
      auditPage({
        csrf: session.csrf,
        auditor: user.username,
        filters,
        groups: groups.slice(0, MAX_TRACES).map((group) => ({ group, chain: delegationTree(group.events) })),
        truncated: groups.length > MAX_TRACES,
      }),
    );
  });
}
