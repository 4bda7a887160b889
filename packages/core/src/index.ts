export * from './errors.js';
export * from './random.js';
export * from './clock.js';
