// The demo reports tool (audience http://127.0.0.1:9411) in its own process, trusting the IdP at ISSUER.
import { createReportsTool } from '@palisade/tools-demo';

const app = createReportsTool({
  issuer: process.env.ISSUER,
  audience: 'http://127.0.0.1:9411',
  filesAudience: 'http://127.0.0.1:9410',
  clientId: 'report-service',
  clientSecret: 'report-service-secret',
});
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.send?.({ port: Number(process.env.PORT) });
