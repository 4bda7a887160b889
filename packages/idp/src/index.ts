export { createIdp, type Idp, type IdpOptions } from './server.js';
export { loadConfigFile, parseConfig, ConfigError } from './config/load.js';
export type { ParsedConfig, ConfigInput } from './config/schema.js';
export { DEFAULTS } from './config/defaults.js';
export { Keystore } from './keys/keystore.js';
export { Realm } from './realm.js';
