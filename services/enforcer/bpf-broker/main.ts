/**
 * Entry point of the BPF broker process, started on demand by `airlock run`
 * (client.ts) in its own session:
 *
 *   node main.js --socket PATH --lock NAME --linger-ms N
 *
 * Prints one line on stdout and closes it: {"ready":true,"pid":N} once it
 * serves, {"busy":true} when another broker holds the host-wide lock, or
 * {"error":{...}} when the loader cannot start. Logs go to stderr.
 * SIGTERM, SIGINT, SIGHUP: kill the agents it serves, unload, exit.
 */
import { createServer, type Server } from 'node:net';
import { parseArgs } from 'node:util';
import { BrokerServer } from './server.js';
import { BROKER_LOCK, BROKER_SOCKET, DEFAULT_LINGER_MS, toWireError, type StartLine } from './protocol.js';

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString()} airlock-bpf-broker[${process.pid}] ${line}\n`);
}

function say(line: StartLine): Promise<void> {
  return new Promise((resolve) => process.stdout.end(`${JSON.stringify(line)}\n`, () => resolve()));
}

/** Listening on an abstract name is an exclusive claim the kernel drops when we die. */
function claim(name: string): Promise<Server | undefined> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error)));
    server.listen({ path: `\0${name}` }, () => resolve(server));
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { socket: { type: 'string', default: BROKER_SOCKET }, lock: { type: 'string', default: BROKER_LOCK }, 'linger-ms': { type: 'string', default: String(DEFAULT_LINGER_MS) } },
  });
  const lock = await claim(values.lock);
  if (!lock) {
    await say({ busy: true });
    return 0;
  }
  let broker: BrokerServer;
  try {
    broker = await BrokerServer.start({ socketPath: values.socket, lingerMs: Number(values['linger-ms']), log });
  } catch (error) {
    log(`cannot start: ${(error as Error).message}`);
    await say({ error: toWireError(error) });
    return 1;
  }
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping`);
      void broker.stop();
    });
  }
  log(`serving on ${values.socket} (loader pid ${broker.loaderPid})`);
  await say({ ready: true, pid: process.pid });
  await broker.stopped;
  lock.close();
  log('stopped');
  return 0;
}

process.exitCode = await main();
