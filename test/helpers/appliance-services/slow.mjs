// Test service: healthy, but only after SLOW_MS (default 2000) — keeps a lifecycle command busy.
import { createServer } from 'node:http';

setTimeout(() => {
  createServer((req, res) => {
    res.writeHead(req.url === '/healthz' ? 200 : 404);
    res.end('ok');
  }).listen(Number(process.env.PORT), '127.0.0.1');
}, Number(process.env.SLOW_MS ?? 2000));
process.on('SIGTERM', () => process.exit(0));
