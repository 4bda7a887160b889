export { type ExpressLikeRequest, expressErrorHandler, requireToken } from './adapters/express.js';
export { type ProtectedHandler, protectNodeHandler, sendRefusal } from './adapters/node-http.js';
