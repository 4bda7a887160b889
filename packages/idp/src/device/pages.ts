import { PATHS } from '../context.js';
import { html, layout, type SafeHtml } from '../interactions/pages/html.js';
import type { RequestView } from './view.js';

/**
 * One pending request. /assets/device.js builds exactly this markup from the
 * event stream; both go through escaping (here) or textContent (there).
 */
export function requestCard(view: RequestView, csrf: string): SafeHtml {
  const base = `${PATHS.device}/requests/${encodeURIComponent(view.id)}`;
  return html`<li class="request" data-id="${view.id}">
${view.headlines.map((line) => html`<p class="headline">${line}</p>`)}
${view.binding_message === null ? undefined : html`<p class="binding">The application shows: <strong>${view.binding_message}</strong></p>`}
${view.details.map((detail) => html`<dl>${detail.fields.map((f) => html`<dt>${f.name}</dt><dd>${f.value}</dd>`)}</dl>`)}
<p class="scope-name">${view.client.id} · ${view.scope.join(' ')}</p>
<form method="post" action="${base}/approve" class="approve">
<input type="hidden" name="csrf" value="${csrf}">
${view.needs_code ? html`<label>Code from your authenticator app<input name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required></label>` : undefined}
<div class="actions"><button type="submit">Approve</button></div>
</form>
<form method="post" action="${base}/deny" class="deny">
<input type="hidden" name="csrf" value="${csrf}">
<div class="actions"><button type="submit" class="secondary">Deny</button></div>
</form>
</li>`;
}

export function deviceHomePage(input: { csrf: string; username: string; notice?: string; requests: readonly RequestView[] }): string {
  return layout(
    'Approvals',
    html`<h1>Approvals</h1>
<p class="lead">Signed in as <strong>${input.username}</strong>. New requests appear here as they arrive.</p>
${input.notice ? html`<div class="notice" role="status">${input.notice}</div>` : undefined}
<p id="empty" class="lead"${input.requests.length > 0 ? html` hidden` : undefined}>Nothing is waiting for you.</p>
<ul id="requests" class="requests">${input.requests.map((view) => requestCard(view, input.csrf))}</ul>
<form method="post" action="${PATHS.device}/logout">
<input type="hidden" name="csrf" value="${input.csrf}">
<div class="actions"><button type="submit" class="secondary">Sign out of this device</button></div>
</form>`,
    html`<meta name="palisade-csrf" content="${input.csrf}"><script src="/assets/device.js" defer></script>`,
  );
}
