export { createFilesTool, type ToolOptions } from './files.js';
export { createHrLegacyTool } from './hr-legacy.js';
export { createReportsTool, type ReportsOptions } from './reports.js';
