export { type AuditLogger, AuditTrail, openAuditTrail } from './audit/trail.js';
export { verifyAuditTrail } from './audit/verify.js';
export { DEFAULTS } from './config/defaults.js';
export { ConfigError, loadConfigFile, parseConfig } from './config/load.js';
export type { ConfigInput, ParsedConfig } from './config/schema.js';
export { withdrawConsent } from './interactions/withdraw-consent.js';
export { Keystore, keyRetention } from './keys/keystore.js';
export { Realm } from './realm.js';
export { createIdp, type Idp, type IdpOptions } from './server.js';
