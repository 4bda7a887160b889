export { createFilesTool, type ToolOptions } from './files.js';
export { createHrLegacyTool } from './hr-legacy.js';
export { APPROVAL_ACR, createPaymentsTool, type PaymentsOptions } from './payments.js';
export { createReportsTool, type ReportsOptions } from './reports.js';
