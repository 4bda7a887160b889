export { protect, refuse, tokenOf, traceOf } from './adapters/fastify.js';
