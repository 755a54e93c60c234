/**
 * The BPF broker: the one process per host that owns the BPF loader and
 * shares it between `airlock run` processes over a unix socket in a
 * root-only directory. The loader keeps its programs loaded for every agent
 * (adding one costs about a millisecond, starting a loader about 60 ms: see
 * bpf/README.md), and the kernel has a single audit-daemon slot, so two
 * loaders on one host would fight over it.
 *
 * The broker exits once it has had no connection for `lingerMs`, unloading
 * everything; when its loader dies it kills every agent it serves (they are
 * no longer audited) and exits, and its clients see the connection close.
 */
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { BpfLoader, type BpfLoaderOptions, type LoaderEvent } from '../bpf/index.js';
import { RunError, RunErrorCodes } from '../errors.js';
import type { CompiledPolicy } from '../policy/index.js';
import { parseLine, toWireError, type BrokerEvent, type BrokerHello, type BrokerReply } from './protocol.js';

export interface BrokerServerOptions {
  socketPath: string;
  /** Exit after this long without a connection. */
  lingerMs: number;
  loader?: BpfLoaderOptions;
  log?: (line: string) => void;
}

interface Client {
  socket: Socket;
  /** Agent id → its cgroup v2 directory (to kill the tree if the client goes away). */
  agents: Map<string, string>;
}

export class BrokerServer {
  readonly #loader: BpfLoader;
  readonly #server: Server;
  readonly #options: BrokerServerOptions;
  readonly #clients = new Set<Client>();
  readonly #owners = new Map<string, Client>();
  readonly #log: (line: string) => void;
  #idle: NodeJS.Timeout | undefined;
  #loaderGone = false;
  #stopping: Promise<void> | undefined;
  /** Resolves once the broker has stopped and unloaded everything. */
  readonly stopped: Promise<void>;
  #resolveStopped!: () => void;

  private constructor(loader: BpfLoader, options: BrokerServerOptions) {
    this.#loader = loader;
    this.#options = options;
    this.#log = options.log ?? (() => undefined);
    this.#server = createServer((socket) => this.#accept(socket));
    this.stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
    loader.on((event) => this.#route(event));
    void loader.exited.then(({ code, signal }) => {
      this.#loaderGone = true;
      if (this.#stopping) return;
      this.#log(`the loader exited (code ${code}, signal ${signal}): killing every agent and stopping`);
      this.#broadcast({ event: 'loader-exited', code, signal });
      void this.stop();
    });
  }

  /** Loads the programs, then listens. The caller holds the host-wide broker lock. */
  static async start(options: BrokerServerOptions): Promise<BrokerServer> {
    await prepareSocketDir(dirname(options.socketPath));
    const loader = await BpfLoader.start(options.loader);
    const broker = new BrokerServer(loader, options);
    try {
      // A socket file left by a broker that died; we hold the lock, so it is not in use.
      await rm(options.socketPath, { force: true });
      await new Promise<void>((resolve, reject) => {
        broker.#server.once('error', reject);
        broker.#server.listen(options.socketPath, () => resolve());
      });
    } catch (error) {
      await loader.close();
      throw error;
    }
    broker.#armIdle();
    return broker;
  }

  get loaderPid(): number {
    return this.#loader.pid;
  }

  /** Kills the agents still registered, unloads the programs, removes the socket. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearTimeout(this.#idle);
      this.#server.close();
      for (const client of this.#clients) await this.#abandon(client);
      for (const client of this.#clients) client.socket.destroy();
      await this.#loader.close();
      await rm(this.#options.socketPath, { force: true });
      this.#resolveStopped();
    })();
    return this.#stopping;
  }

  #accept(socket: Socket): void {
    if (this.#stopping) return void socket.destroy();
    clearTimeout(this.#idle);
    const client: Client = { socket, agents: new Map() };
    this.#clients.add(client);
    socket.on('error', () => undefined); // a client killed mid-write: its close follows
    const hello: BrokerHello = { event: 'hello', pid: process.pid, loaderPid: this.#loader.pid, ...kauditOf(this.#loader) };
    this.#send(client, hello);
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => void this.#handle(client, line));
    socket.once('close', () => {
      void this.#abandon(client).then(() => {
        this.#clients.delete(client);
        this.#armIdle();
      });
    });
  }

  async #handle(client: Client, line: string): Promise<void> {
    const msg = parseLine(line);
    const seq = typeof msg?.seq === 'number' ? msg.seq : -1;
    try {
      const reply = await this.#execute(client, msg ?? {});
      this.#send(client, { seq, ok: true, ...reply } satisfies BrokerReply);
    } catch (error) {
      this.#send(client, { seq, ok: false, error: toWireError(error) } satisfies BrokerReply);
    }
  }

  async #execute(client: Client, msg: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = typeof msg.id === 'string' ? msg.id : '';
    const own = () => {
      if (this.#owners.get(id) !== client) throw new RunError(RunErrorCodes.BROKER_FAILED, `agent "${id}" is not registered by this connection`, { hint: 'Add the agent first (add-agent).' });
    };
    switch (msg.cmd) {
      case 'ping':
        return { ...(await this.#loader.ping()) };
      case 'add-agent': {
        if (this.#owners.has(id)) throw new RunError(RunErrorCodes.BROKER_FAILED, `agent "${id}" is registered already`, { hint: 'Agent ids are unique.' });
        const cgroup = String(msg.cgroup);
        const registration = await this.#loader.addAgent(id, cgroup, msg.policy as CompiledPolicy);
        this.#owners.set(id, client);
        client.agents.set(id, cgroup);
        return { ...registration };
      }
      case 'track-pid':
        own();
        await this.#loader.trackPid(id, Number(msg.pid));
        return {};
      case 'remove-agent':
        own();
        await this.#forget(client, id);
        return {};
      default:
        throw new RunError(RunErrorCodes.BROKER_FAILED, `unknown broker command ${JSON.stringify(msg.cmd)}`, { hint: 'The enforcer and the broker come from different builds.' });
    }
  }

  /** A client went away with agents still registered: nobody supervises them, so they end. */
  async #abandon(client: Client): Promise<void> {
    for (const [id, cgroup] of client.agents) {
      this.#log(`agent ${id}: its run went away; killing its tree`);
      await writeFile(join(cgroup, 'cgroup.kill'), '1').catch(() => undefined);
      await this.#forget(client, id).catch((error: Error) => this.#log(`agent ${id}: ${error.message}`));
    }
  }

  /**
   * The loader drains the ring buffer before it answers remove-agent: the
   * agent's last records arrive during the await and still go to its owner
   * (routine records wait there for the loader's next tick, so an agent that
   * ends right after an operation leaves its record to this drain).
   */
  async #forget(client: Client, id: string): Promise<void> {
    client.agents.delete(id);
    try {
      if (!this.#loaderGone) await this.#loader.removeAgent(id);
    } finally {
      this.#owners.delete(id);
    }
  }

  #route(event: LoaderEvent): void {
    if (event.kind === 'malformed') return this.#log(event.error.message);
    if (event.kind === 'lost') return this.#broadcast({ event: 'loader', loader: event });
    const owner = event.agentId === undefined ? undefined : this.#owners.get(event.agentId);
    if (owner) this.#send(owner, { event: 'loader', loader: event });
  }

  #broadcast(event: BrokerEvent): void {
    for (const client of this.#clients) this.#send(client, event);
  }

  #send(client: Client, message: BrokerHello | BrokerReply | BrokerEvent): void {
    if (!client.socket.destroyed) client.socket.write(`${JSON.stringify(message)}\n`);
  }

  #armIdle(): void {
    clearTimeout(this.#idle);
    if (this.#clients.size > 0 || this.#stopping) return;
    this.#idle = setTimeout(() => {
      this.#log(`idle for ${this.#options.lingerMs} ms: stopping`);
      void this.stop();
    }, this.#options.lingerMs);
  }
}

function kauditOf(loader: BpfLoader): Pick<BrokerHello, 'kaudit' | 'kauditEnabled' | 'kauditNote'> {
  return { kaudit: loader.ready.kaudit, kauditEnabled: loader.ready.kauditEnabled, kauditNote: loader.ready.kauditNote };
}

/** Only root may reach the socket: a client can register cgroups and learn every agent's events. */
async function prepareSocketDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
    throw new RunError(RunErrorCodes.BROKER_FAILED, `${dir} must be a directory owned by root with mode 0700`, {
      hint: `Remove ${dir} (it is recreated as needed) or fix its owner and mode.`,
      details: { dir, uid: st.uid, mode: (st.mode & 0o7777).toString(8) },
    });
  }
}
