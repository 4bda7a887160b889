import { createGateway, type GatewayConfig } from '@palisade/gateway';
import { toolAuditSender } from '@palisade/resource-server';
import type { Running } from './serve.js';

/** The MCP gateway of a configuration file, reporting to the IdP's audit trail as its own client. */
export async function serveGateway(config: GatewayConfig): Promise<Running> {
  const audit = toolAuditSender({
    issuer: config.issuer,
    clientId: config.client.client_id,
    clientSecret: config.client.client_secret,
    component: 'gateway',
    ...(config.audit.buffer_file ? { bufferFile: config.audit.buffer_file } : {}),
    onError: (message) => process.stderr.write(`gateway: ${message}\n`),
  });
  const gateway = await createGateway(config, { audit, logger: { level: process.env.PALISADE_LOG_LEVEL ?? 'warn' } });
  const url = await gateway.listen();
  return {
    urls: { 'MCP gateway': url },
    async close() {
      await gateway.close();
      await audit.close();
    },
  };
}
