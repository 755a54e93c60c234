// Test service: runs, but its health check answers 503 with a reason.
import { createServer } from 'node:http';

createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 503 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'down', error: 'database not reachable' }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
