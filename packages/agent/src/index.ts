export { type ApprovalRequest, type ApprovalTokens, requestApproval } from './approval.js';
export { AutonomousAgent, type AutonomousAgentOptions } from './autonomous.js';
export { NotificationReceiver, verifyPushedTokens } from './ciba-notifications.js';
export { AgentError, ApprovalDenied, ApprovalExpired, MisuseError, ProtocolError, ServerOAuthError } from './errors.js';
export { type AuthorizationDetail, type Credentials, Issuer } from './issuer.js';
export { LoopbackRedirect } from './loopback.js';
export { connectToGateway } from './mcp.js';
export { FileTokenStore, MemoryTokenStore, type StoredTokens, type TokenStore } from './token-store.js';
export { UserAgent, type UserAgentOptions } from './user-agent.js';
