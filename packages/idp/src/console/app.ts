import { DEFAULTS } from '../config/defaults.js';
import { type IdpContext, PATHS } from '../context.js';

/**
 * A page the IdP serves to people directly, outside any OAuth flow (the
 * authentication device, the audit viewer): its own path, its own session
 * cookie scoped to that path, its own wording on the sign-in page.
 */
export interface ConsoleApp {
  readonly name: 'device' | 'audit';
  readonly path: string;
  readonly cookie: string;
  readonly loginCookie: string;
  /** Seconds a sign-in lasts. */
  lifetime(ctx: IdpContext): number;
  readonly signInTitle: string;
  readonly signInLead: string;
}

export const DEVICE_APP: ConsoleApp = {
  name: 'device',
  path: PATHS.device,
  cookie: DEFAULTS.ciba.deviceCookieName,
  loginCookie: DEFAULTS.ciba.deviceLoginCookieName,
  lifetime: (ctx) => ctx.realm.config.ciba.device_session,
  signInTitle: 'Set up this device',
  signInLead: 'Sign in once. Approval requests from applications acting for you will appear here.',
};

export const AUDIT_APP: ConsoleApp = {
  name: 'audit',
  path: PATHS.audit,
  cookie: DEFAULTS.audit.cookieName,
  loginCookie: DEFAULTS.audit.loginCookieName,
  // An auditor's view of everything is worth a short session.
  lifetime: (ctx) => ctx.realm.config.lifetimes.session,
  signInTitle: 'Audit trail',
  signInLead: 'Sign in as an auditor to read the audit trail.',
};
