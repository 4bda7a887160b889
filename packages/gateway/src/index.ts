export { ApprovalRefused, Approvals, TOOL_CALL_TYPE } from './approval.js';
export { type GatewayConfig, gatewayConfigSchema, loadGatewayConfig, parseGatewayConfig, type ToolConfig } from './config.js';
export { createGateway, type Gateway, type GatewayOptions } from './server.js';
export { GatewayTool } from './tools.js';
