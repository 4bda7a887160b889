export * from './clock.js';
export * from './config.js';
export * from './dpop.js';
export * from './errors.js';
export * from './json.js';
export * from './random.js';
export * from './rar/index.js';
