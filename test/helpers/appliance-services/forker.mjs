// Test service: leaves processes a careless supervisor would orphan — a child
// that ignores SIGTERM and a daemon that escaped into its own session — then
// answers health checks.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const stubborn = 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000);';
const child = spawn(process.execPath, ['-e', stubborn], { stdio: 'ignore' });
const daemon = spawn(process.execPath, ['-e', stubborn], { stdio: 'ignore', detached: true });
daemon.unref();
writeFileSync(`${process.env.AIRLOCK_STATE_DIR}/pids.json`, JSON.stringify({ child: child.pid, daemon: daemon.pid }));

createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404);
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
