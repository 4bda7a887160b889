import { html, layout } from '../interactions/pages/html.js';
import { errorBox, passwordForm, totpForm } from '../interactions/pages/templates.js';
import type { ConsoleApp } from './app.js';

export function consoleLoginPage(app: ConsoleApp, input: { csrf: string; error?: string; username?: string }): string {
  return layout(
    app.signInTitle,
    html`<h1>${app.signInTitle}</h1>
<p class="lead">${app.signInLead}</p>
${errorBox(input.error)}
${passwordForm({ action: `${app.path}/login`, csrf: input.csrf, username: input.username })}`,
  );
}

export function consoleTotpPage(app: ConsoleApp, input: { csrf: string; error?: string }): string {
  return layout(
    app.signInTitle,
    html`<h1>Two-step verification</h1>
<p class="lead">Enter the 6-digit code from your authenticator app.</p>
${errorBox(input.error)}
${totpForm({ action: `${app.path}/totp`, csrf: input.csrf })}`,
  );
}
