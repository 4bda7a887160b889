import type { AuditEvent } from '@palisade/audit';
import { PATHS } from '../context.js';
import { html, layout, type SafeHtml } from '../interactions/pages/html.js';
import type { ChainNode, TraceGroup } from './timeline.js';

export interface AuditFilters {
  readonly user?: string;
  readonly client?: string;
  readonly tool?: string;
  readonly outcome?: string;
  readonly trace?: string;
  readonly since: string;
}

export const SINCE_CHOICES = ['1h', '24h', '7d', '30d'] as const;

function tree(nodes: readonly ChainNode[]): SafeHtml | undefined {
  if (nodes.length === 0) return undefined;
  return html`<ul class="tree">${nodes.map((node) => html`<li><span>${node.label}</span>${tree(node.children)}</li>`)}</ul>`;
}

function what(event: AuditEvent): string {
  const data = event.data ?? {};
  const parts = [
    data.operation,
    data.audience ? `for ${String(data.audience)}` : undefined,
    data.endpoint,
    data.request ? `request ${String(data.request)}` : undefined,
    event.reason,
  ];
  return parts.filter((p) => p !== undefined && p !== '').join(' · ');
}

function traceSection(group: TraceGroup, chain: readonly ChainNode[]): SafeHtml {
  const first = group.events[0];
  const users = [...new Set(group.events.map((e) => e.sub).filter(Boolean))];
  return html`<section class="trace">
<h2>${group.traceId ? html`Trace <a href="${PATHS.audit}?trace=${group.traceId}&amp;since=30d"><code>${group.traceId}</code></a>` : 'Single event'}</h2>
<p class="lead">${users.join(', ') || 'no user'} · ${group.events.length} events · ${first?.time ?? ''}</p>
${chain.length > 0 ? html`<h3>Delegation chain</h3>${tree(chain)}` : undefined}
<table class="timeline">
<thead><tr><th>time</th><th>component</th><th>event</th><th>outcome</th><th>client</th><th>user</th><th>details</th></tr></thead>
<tbody>${group.events.map(
    (e) =>
      html`<tr class="${e.outcome}"><td>${e.time.slice(11, 23)}</td><td>${e.component}</td><td>${e.event}</td><td>${e.outcome}</td><td>${e.client ?? ''}</td><td>${e.sub ?? ''}</td><td>${what(e)}</td></tr>`,
  )}</tbody>
</table>
</section>`;
}

export function auditPage(input: {
  csrf: string;
  auditor: string;
  filters: AuditFilters;
  groups: readonly { group: TraceGroup; chain: readonly ChainNode[] }[];
  truncated: boolean;
}): string {
  const f = input.filters;
  const field = (name: keyof AuditFilters, label: string) =>
    html`<label>${label}<input name="${name}" type="text" value="${f[name] ?? ''}" autocomplete="off" spellcheck="false"></label>`;
  return layout(
    'Audit trail',
    html`<h1>Audit trail</h1>
<p class="lead">Signed in as <strong>${input.auditor}</strong> (auditor). Every view is itself recorded.</p>
<form method="get" action="${PATHS.audit}" class="filters">
${field('user', 'User')}${field('client', 'Client')}${field('tool', 'Tool')}${field('trace', 'Trace id')}
<label>Outcome<select name="outcome"><option value="">any</option>${['success', 'failure'].map(
      (o) => html`<option value="${o}"${f.outcome === o ? html` selected` : undefined}>${o}</option>`,
    )}</select></label>
<label>Since<select name="since">${SINCE_CHOICES.map((s) => html`<option value="${s}"${f.since === s ? html` selected` : undefined}>${s}</option>`)}</select></label>
<div class="actions"><button type="submit">Search</button></div>
</form>
${input.groups.length === 0 ? html`<p class="lead">No events match.</p>` : input.groups.map(({ group, chain }) => traceSection(group, chain))}
${input.truncated ? html`<p class="lead">Only the most recent traces are shown; narrow the search.</p>` : undefined}
<form method="post" action="${PATHS.audit}/logout">
<input type="hidden" name="csrf" value="${input.csrf}">
<div class="actions"><button type="submit" class="secondary">Sign out</button></div>
</form>`,
  );
}

export function notAuditorPage(csrf: string, username: string): string {
  return layout(
    'Audit trail',
    html`<h1>Not an auditor</h1>
<div class="error" role="alert">${username} may not read the audit trail.</div>
<form method="post" action="${PATHS.audit}/logout">
<input type="hidden" name="csrf" value="${csrf}">
<div class="actions"><button type="submit" class="secondary">Sign out</button></div>
</form>`,
  );
}
