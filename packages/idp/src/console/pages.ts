import { html, layout, type SafeHtml } from '../interactions/pages/html.js';
import type { ConsoleApp } from './app.js';

function errorBox(message: string | undefined): SafeHtml | undefined {
  return message ? html`<div class="error" role="alert">${message}</div>` : undefined;
}

export function consoleLoginPage(app: ConsoleApp, input: { csrf: string; error?: string; username?: string }): string {
  return layout(
    app.signInTitle,
    html`<h1>${app.signInTitle}</h1>
<p class="lead">${app.signInLead}</p>
${errorBox(input.error)}
<form method="post" action="${app.path}/login">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${input.username ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button type="submit">Sign in</button></div>
</form>`,
  );
}

export function consoleTotpPage(app: ConsoleApp, input: { csrf: string; error?: string }): string {
  return layout(
    app.signInTitle,
    html`<h1>Two-step verification</h1>
<p class="lead">Enter the 6-digit code from your authenticator app.</p>
${errorBox(input.error)}
<form method="post" action="${app.path}/totp">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="code">Verification code</label>
<input id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
<div class="actions"><button type="submit">Verify</button></div>
</form>`,
  );
}
