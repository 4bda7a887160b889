export { type ToolAuditOptions, toolAuditSender } from './audit.js';
export { type ErrorAnswer, errorAnswer, resourceMetadataUrl } from './challenge.js';
export {
  type AuthorizationServerMetadata,
  type ClientCredentialsOptions,
  ServiceClient,
  TokenEndpointError,
  type TokenResponse,
} from './client-credentials.js';
export { type AuditSink, decisionEvent } from './decisions.js';
export { DpopKey } from './dpop-key.js';
export { ExchangeError, type ExchangerOptions, TokenExchanger } from './exchange.js';
export type { IntrospectionOptions } from './introspection.js';
export { protectedResourceMetadata, protectedResourceMetadataPath, type ResourceMetadataOptions } from './metadata.js';
export { InsufficientAuthorization, requireDetail, requireScope } from './require.js';
export { requestTrace, traceHeaders } from './trace.js';
export {
  type DpopOptions,
  DpopRefusal,
  type IncomingRequest,
  type PresentedToken,
  TokenVerifier,
  type VerifiedToken,
  type VerifierOptions,
} from './verify.js';
