export { type ErrorAnswer, errorAnswer, resourceMetadataUrl } from './challenge.js';
export { ExchangeError, type ExchangerOptions, TokenExchanger } from './exchange.js';
export { protectedResourceMetadata, protectedResourceMetadataPath, type ResourceMetadataOptions } from './metadata.js';
export { InsufficientAuthorization, requireDetail, requireScope } from './require.js';
export { type IncomingRequest, TokenVerifier, type VerifiedToken, type VerifierOptions } from './verify.js';
