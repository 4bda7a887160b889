export { detailsClaim, parseAuthorizationDetails } from './limits.js';
export { DetailPolicy } from './policy.js';
export { type DetailDescription, DetailTypes, detailTypeProblems } from './registry.js';
