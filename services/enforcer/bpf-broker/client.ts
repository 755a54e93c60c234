/**
 * `airlock run`'s side of the BPF broker: connect to the host's broker, or
 * start one (detached, in its own session) and connect once it serves.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { AgentRegistration } from '../bpf/index.js';
import { EnforcerError, RunError, RunErrorCodes } from '../errors.js';
import type { CompiledPolicy } from '../policy/index.js';
import { BROKER_LOCK, BROKER_SOCKET, DEFAULT_LINGER_MS, parseLine, type BrokerEvent, type BrokerHello, type StartLine, type WireError } from './protocol.js';

export interface BrokerConnectOptions {
  socketPath?: string;
  lockName?: string;
  lingerMs?: number;
  /** Where a broker started by us writes its log (default: nowhere). */
  logFile?: string;
  /** How long to wait for a broker to serve (its loader loads and verifies the programs). */
  startTimeoutMs?: number;
  requestTimeoutMs?: number;
}

interface Pending {
  resolve: (reply: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class BrokerClient {
  readonly hello: BrokerHello;
  /** The broker was already running (its programs loaded) when we connected. */
  readonly warm: boolean;
  /** Resolves when the connection is gone, for whatever reason. */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(event: BrokerEvent) => void>();
  readonly #timeoutMs: number;
  #seq = 0;

  private constructor({ socket, lines, hello }: Connection, warm: boolean, timeoutMs: number) {
    this.#socket = socket;
    this.hello = hello;
    this.warm = warm;
    this.#timeoutMs = timeoutMs;
    this.closed = new Promise((resolveClosed) => socket.once('close', () => resolveClosed()));
    void this.closed.then(() => {
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(brokerGone());
      }
      this.#pending.clear();
    });
    void (async () => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) this.#handle(r.value);
    })();
  }

  static async connect(options: BrokerConnectOptions = {}): Promise<BrokerClient> {
    const socketPath = options.socketPath ?? BROKER_SOCKET;
    const lockName = options.lockName ?? BROKER_LOCK;
    const timeoutMs = options.requestTimeoutMs ?? 10_000;
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    for (let attempt = 0; ; attempt++) {
      const connection = await tryConnect(socketPath, timeoutMs);
      if (connection) return new BrokerClient(connection, attempt === 0, timeoutMs);
      // Nobody holds the lock: start a broker. Held but not serving: one is starting, or stopping
      // (it keeps the lock until its loader has let go of the kernel's audit slot).
      if (await lockFree(lockName)) await startBroker(options, socketPath, lockName);
      else if (Date.now() > deadline) {
        throw new RunError(RunErrorCodes.BROKER_FAILED, `the BPF broker did not start serving on ${socketPath}`, {
          hint: 'See its log (log/enforcer-bpf.log under the prefix of the run that started it); `airlock doctor` shows which BPF program types load.',
          details: { socketPath },
        });
      } else await sleep(10);
    }
  }

  /** Events of this connection's agents, `lost` and `loader-exited`. */
  on(listener: (event: BrokerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async addAgent(id: string, cgroup: string, policy: CompiledPolicy): Promise<AgentRegistration> {
    const reply = await this.#request({ cmd: 'add-agent', id, cgroup, policy });
    return { agent: Number(reply.agent), cgroupId: String(reply.cgroupId) };
  }

  async trackPid(id: string, pid: number): Promise<void> {
    await this.#request({ cmd: 'track-pid', id, pid });
  }

  /** Detaches the programs from the agent's cgroup; its pending events arrive before the reply. */
  async removeAgent(id: string): Promise<void> {
    await this.#request({ cmd: 'remove-agent', id });
  }

  close(): void {
    this.#socket.end();
  }

  #request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.#socket.destroyed) return Promise.reject(brokerGone());
    const seq = ++this.#seq;
    return new Promise((resolveReply, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(seq);
        reject(new RunError(RunErrorCodes.BROKER_FAILED, `the BPF broker did not answer "${String(body.cmd)}" within ${this.#timeoutMs} ms`, { hint: 'The broker or its loader is stuck: stop it (SIGTERM) and run again.' }));
      }, this.#timeoutMs);
      this.#pending.set(seq, { resolve: resolveReply, reject, timer });
      this.#socket.write(`${JSON.stringify({ ...body, seq })}\n`);
    });
  }

  #handle(line: string): void {
    const msg = parseLine(line);
    if (!msg) return;
    if (typeof msg.event === 'string') {
      for (const listener of this.#listeners) listener(msg as unknown as BrokerEvent);
      return;
    }
    const p = typeof msg.seq === 'number' ? this.#pending.get(msg.seq) : undefined;
    if (!p) return;
    this.#pending.delete(msg.seq as number);
    clearTimeout(p.timer);
    if (msg.ok === true) p.resolve(msg);
    else p.reject(fromWire(msg.error as WireError));
  }
}

interface Connection {
  socket: Socket;
  lines: AsyncIterator<string>;
  hello: BrokerHello;
}

/** Undefined when nobody serves the socket (or the broker there is stopping). */
async function tryConnect(socketPath: string, timeoutMs: number): Promise<Connection | undefined> {
  const socket = await new Promise<Socket | undefined>((resolveSocket, reject) => {
    const s = connect(socketPath);
    s.once('connect', () => resolveSocket(s));
    s.once('error', (error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ECONNREFUSED' ? resolveSocket(undefined) : reject(error)));
  });
  if (!socket) return undefined;
  socket.on('error', () => undefined); // the close that follows is what counts
  const lines = createInterface({ input: socket, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const wait = new AbortController();
  const first = await Promise.race([lines.next(), sleep(timeoutMs, undefined, { signal: wait.signal }).catch(() => undefined)]);
  wait.abort();
  const hello = first && !first.done ? parseLine(first.value) : undefined;
  if (hello?.event !== 'hello') {
    socket.destroy();
    return undefined;
  }
  return { socket, lines, hello: hello as unknown as BrokerHello };
}

function brokerGone(): RunError {
  return new RunError(RunErrorCodes.BROKER_FAILED, 'the connection to the BPF broker closed', { hint: 'The broker or its loader died; the agent was not left running unaudited.' });
}

function fromWire(error: WireError): EnforcerError {
  return new EnforcerError(error.code, error.message, { ...(error.hint ? { hint: error.hint } : {}), ...(error.details ? { details: error.details } : {}) });
}

/** Is the broker's abstract lock free (no broker running, starting or stopping)? */
function lockFree(name: string): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolveFree, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolveFree(false) : reject(error)));
    probe.listen({ path: `\0${name}` }, () => probe.close(() => resolveFree(true)));
  });
}

/** The compiled entry point: beside this module in dist/, or dist's copy when running from the TypeScript sources. */
function brokerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  const entry = join(dirname(here), 'main.js');
  if (!here.endsWith('.ts')) return entry;
  const root = resolve(dirname(here), '..', '..', '..');
  return join(root, 'dist', relative(root, entry));
}

/** Starts a broker in its own session and waits for its first line: ready, busy (another is starting) or an error. */
async function startBroker(options: BrokerConnectOptions, socketPath: string, lockName: string): Promise<void> {
  const entry = brokerEntry();
  if (!existsSync(entry)) {
    throw new RunError(RunErrorCodes.BROKER_FAILED, `the BPF broker is not built (${entry} is missing)`, { hint: 'Run `npm run build`.' });
  }
  const logFd = options.logFile ? openSync(options.logFile, 'a', 0o600) : 'ignore';
  const args = [entry, '--socket', socketPath, '--lock', lockName, '--linger-ms', String(options.lingerMs ?? DEFAULT_LINGER_MS)];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', logFd] });
  if (typeof logFd === 'number') closeSync(logFd);
  child.unref();
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  await new Promise<void>((resolveEnd) => {
    child.stdout!.once('close', () => resolveEnd());
    child.once('error', () => resolveEnd());
  });
  const line = parseLine(text.split('\n')[0] ?? '') as StartLine | undefined;
  if (line && 'error' in line) {
    throw new RunError(RunErrorCodes.BROKER_FAILED, `the BPF broker could not start: ${line.error.message}`, {
      cause: fromWire(line.error),
      hint: line.error.hint ?? 'Run `airlock doctor` to see which BPF program types this kernel loads.',
      details: { code: line.error.code },
    });
  }
  if (!line) throw new RunError(RunErrorCodes.BROKER_FAILED, 'the BPF broker exited without a word', { hint: 'See its log (log/enforcer-bpf.log under the prefix).' });
}
