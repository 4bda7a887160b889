export { covers, coversAll, sameDetail, withinGrant } from './covers.js';
export type { AuthorizationDetail, JsonValue } from './detail.js';
export { SET_FIELDS } from './detail.js';
