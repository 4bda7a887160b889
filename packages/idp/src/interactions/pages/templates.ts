import type { DetailDescription } from '../../rar/registry.js';
import type { Client, ResourceServer } from '../../realm.js';
import { html, layout, type SafeHtml } from './html.js';

/** Words for the consent page; unknown scopes are shown by name. */
const SCOPE_WORDS: Readonly<Record<string, string>> = {
  openid: 'Sign you in with your company identity',
  profile: 'See your name and username',
  email: 'See your email address',
  offline_access: 'Keep access while you are away (refresh tokens)',
  'tools.access': 'Use internal tools on your behalf, within what each request names',
};

/** SECURITY S4: the client is shown by name, id and where it will send you, never by a name it chose per request. */
function clientCard(client: Client, redirectUri: string): SafeHtml {
  return html`<div class="client"><strong>${client.name}</strong><code>client ${client.id} · returns to ${new URL(redirectUri).host}</code></div>`;
}

export function errorBox(message: string | undefined): SafeHtml | undefined {
  return message ? html`<div class="error" role="alert">${message}</div>` : undefined;
}

/** The username and password form, shared by the sign-in pages of flows and of the IdP's own apps. */
export function passwordForm(input: { action: string; csrf: string; username?: string | undefined }): SafeHtml {
  return html`<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus value="${input.username ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button type="submit">Sign in</button></div>
</form>`;
}

/** The TOTP code form, shared likewise. */
export function totpForm(input: { action: string; csrf: string }): SafeHtml {
  return html`<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="code">Verification code</label>
<input id="code" name="code" type="text" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>
<div class="actions"><button type="submit">Verify</button></div>
</form>`;
}

export function loginPage(input: {
  action: string;
  csrf: string;
  client: Client;
  redirectUri: string;
  error?: string;
  username?: string;
}): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
<p class="lead">to continue to</p>
${clientCard(input.client, input.redirectUri)}
${errorBox(input.error)}
${passwordForm(input)}`,
  );
}

export function totpPage(input: { action: string; csrf: string; client: Client; redirectUri: string; error?: string }): string {
  return layout(
    'Verify it is you',
    html`<h1>Two-step verification</h1>
<p class="lead">Enter the 6-digit code from your authenticator app.</p>
${clientCard(input.client, input.redirectUri)}
${errorBox(input.error)}
${totpForm(input)}`,
  );
}

export function consentPage(input: {
  action: string;
  csrf: string;
  client: Client;
  redirectUri: string;
  username: string;
  scope: readonly string[];
  resource: ResourceServer | undefined;
  details: readonly DetailDescription[];
}): string {
  const items = input.scope.map(
    (scope) => html`<li>${SCOPE_WORDS[scope] ?? `Use the ${scope} permission`}<div class="scope-name">${scope}</div></li>`,
  );
  // RFC 9396 §4 (consent): each detail in words, then every field verbatim, so nothing hides behind the wording.
  const details = input.details.map(
    (detail) =>
      html`<li class="detail"><strong>${detail.sentence}</strong><dl>${detail.fields.map(
        (field) => html`<dt>${field.name}</dt><dd>${field.value}</dd>`,
      )}</dl></li>`,
  );
  return layout(
    'Allow access',
    html`<h1>Allow access?</h1>
<p class="lead">Signed in as <strong>${input.username}</strong>. This application asks to:</p>
${clientCard(input.client, input.redirectUri)}
${details.length > 0 ? html`<h2>Exactly this access</h2><ul class="scopes details">${details}</ul>` : undefined}
<ul class="scopes">${items}</ul>
${input.resource ? html`<p>Access will be limited to <strong>${input.resource.name}</strong> <code>${input.resource.audience}</code>.</p>` : undefined}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<div class="actions">
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
<button type="submit" name="decision" value="allow">Allow</button>
</div>
</form>`,
  );
}

export function errorPage(title: string, message: string): string {
  return layout(
    title,
    html`<h1>${title}</h1><div class="error" role="alert">${message}</div><p class="lead">Return to the application and try again. If this keeps happening, contact your administrator.</p>`,
  );
}

export function logoutPage(input: { csrf: string; username: string; client: Client | undefined; fields: Record<string, string> }): string {
  const hidden = Object.entries(input.fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
  return layout(
    'Sign out',
    html`<h1>Sign out?</h1>
<p class="lead">You are signed in as <strong>${input.username}</strong>${input.client ? html` and <strong>${input.client.name}</strong> asks to sign you out` : undefined}.</p>
<p>Signing out ends your session on this browser and stops applications from using it. Applications you allowed to keep access while you are away keep it.</p>
<form method="post" action="/logout">
<input type="hidden" name="csrf" value="${input.csrf}">
${hidden}
<div class="actions">
<button type="submit" name="decision" value="stay" class="secondary">Stay signed in</button>
<button type="submit" name="decision" value="logout">Sign out</button>
</div>
</form>`,
  );
}

export function stillSignedInPage(): string {
  return layout('Still signed in', html`<h1>You are still signed in</h1><p class="lead">Nothing changed. You can close this window.</p>`);
}

export function signedOutPage(): string {
  return layout('Signed out', html`<h1>You are signed out</h1><p class="lead">You can close this window.</p>`);
}
