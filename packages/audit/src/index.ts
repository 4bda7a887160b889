export * from './canonical.js';
export * from './chain.js';
export * from './events.js';
export * from './redact.js';
export * from './sender.js';
export * from './trace.js';
