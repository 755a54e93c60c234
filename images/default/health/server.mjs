// Placeholder appliance service: answers GET /healthz on loopback so the
// install lifecycle can be exercised before the real services land.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 7499);
const host = process.env.HOST ?? '127.0.0.1';
const started = new Date().toISOString();

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', service: 'health', started }));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: 'not found' }));
});

server.listen(port, host);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
