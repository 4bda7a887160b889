// A trivial downstream tool: GET /schedules answers a fixed JSON body, whatever the Authorization
// (the bench compares what the gateway adds, not what a tool does).
import { createServer } from 'node:http';

const body = JSON.stringify({
  schedules: [
    { report: 'Q4-report.pdf', folder: 'finance', every: 'quarter', next: '2027-01-05' },
    { report: 'budget-2027.xlsx', folder: 'finance', every: 'year', next: '2027-11-15' },
  ],
});
createServer((request, response) => {
  request.resume();
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ port: Number(process.env.PORT) }));
