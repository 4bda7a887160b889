export { protect, refuse, tokenOf } from './adapters/fastify.js';
