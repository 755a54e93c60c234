/**
 * The enforcer's handle on the BPF loader (bpf/build/airlock-bpf): spawns
 * it, speaks its JSON-lines protocol (bpf/loader/commands.h), and turns its
 * event lines into typed events with agent ids and rule sources attached.
 *
 * One loader serves every agent on the host (adding one costs about a
 * millisecond: see bpf/README.md). It must run as root.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { BpfError, BpfErrorCodes, type BpfErrorCode } from '../errors.js';
import type { CompiledPolicy } from '../policy/types.js';
import { decodeEvent, type BpfEvent } from './events.js';
import { defaultLoaderPath } from './paths.js';
import { egressTables, type RuleInfo } from './policy.js';

export interface BpfLoaderOptions {
  /** The loader binary; default defaultLoaderPath(). */
  path?: string;
  /** How long to wait for the loader to load its programs (ms). */
  startTimeoutMs?: number;
  /** How long to wait for each reply (ms). */
  requestTimeoutMs?: number;
}

export type KernelAuditMode = 'daemon' | 'multicast' | 'off';

export interface LoaderReady {
  pid: number;
  /** How denials of Landlock and seccomp reach us (bpf/loader/kaudit.h). */
  kaudit: KernelAuditMode;
  /** Kernel audit is on, so Landlock logs its denials. */
  kauditEnabled: boolean;
  kauditNote: string;
}

export interface LoaderStatus {
  agents: number;
  tracked: number;
  /** Records dropped because the ring buffer was full, since start. */
  lost: number;
  /** The file-open audit hook is attached (some agent audits allows). */
  openAudit: boolean;
  kaudit: KernelAuditMode;
}

export interface AgentRegistration {
  /** The loader's number for the agent (`agent` in raw events). */
  agent: number;
  /** The cgroup v2 id the programs key the agent by. */
  cgroupId: string;
}

export type LoaderEvent =
  | {
      kind: 'bpf';
      /** Undefined for an event of no registered agent (a cgroup with our programs but no policy). */
      agentId: string | undefined;
      event: BpfEvent;
      /** The rule a connect event names, if any. */
      rule?: RuleInfo;
    }
  | {
      kind: 'kaudit';
      agentId: string;
      layer: 'landlock' | 'seccomp';
      /** Kernel audit record type (1423 Landlock access, 1326 seccomp). */
      type: number;
      /** seccomp: the process; Landlock: the process that created the Landlock domain. */
      pid: number;
      denied: boolean;
      record: string;
    }
  | {
      kind: 'killed';
      agentId: string;
      /** What the violation was: connect, socket, landlock, seccomp. */
      reason: string;
      pid: number;
      /** The BPF program killed the offending process itself, before its syscall returned. */
      inKernel: boolean;
      /** The rest of the tree was killed through cgroup.kill (else one by one). */
      cgroupKill: boolean;
      /** From the violation to the whole tree signalled, -1 if unknown. */
      latencyNs: number;
    }
  | { kind: 'lost'; count: number; total: number }
  | { kind: 'malformed'; error: BpfError };

export interface LoaderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Pending {
  resolve: (reply: Record<string, unknown>) => void;
  reject: (error: BpfError) => void;
  timer: NodeJS.Timeout;
  cmd: string;
}

const STDERR_KEEP = 8192;

/** Loader failure codes (status.h) → ours. */
const REPLY_CODES: Record<string, BpfErrorCode> = {
  AGENT_EXISTS: BpfErrorCodes.AGENT_EXISTS,
  AGENT_NOT_FOUND: BpfErrorCodes.AGENT_NOT_FOUND,
  TOO_MANY_AGENTS: BpfErrorCodes.TOO_MANY_AGENTS,
  POLICY_TOO_LARGE: BpfErrorCodes.POLICY_TOO_LARGE,
  CGROUP: BpfErrorCodes.CGROUP,
  ATTACH: BpfErrorCodes.ATTACH,
  PID: BpfErrorCodes.PID,
  KERNEL: BpfErrorCodes.KERNEL,
};

const HINTS: Partial<Record<BpfErrorCode, string>> = {
  [BpfErrorCodes.LOADER_MISSING]: 'Build the BPF layer: make -C bpf (needs clang, libbpf-dev, bpftool; see .ci/prepare).',
  [BpfErrorCodes.LOADER_FAILED]: 'Run `airlock doctor` to see which BPF program types this kernel loads; the loader must run as root.',
  [BpfErrorCodes.LOADER_EXITED]: 'Kill the running agents (their network stays fenced but is no longer audited) and start the loader again.',
  [BpfErrorCodes.TIMEOUT]: 'The loader is stuck or overloaded; restart it.',
  [BpfErrorCodes.PROTOCOL]: 'The enforcer and the loader come from different builds: rebuild both.',
  [BpfErrorCodes.AGENT_EXISTS]: 'Use another agent id and cgroup, or remove the old agent first.',
  [BpfErrorCodes.AGENT_NOT_FOUND]: 'Register the agent with addAgent first.',
  [BpfErrorCodes.POLICY_TOO_LARGE]: 'Merge egress rules into CIDR ranges.',
  [BpfErrorCodes.CGROUP]: 'Pass an existing directory on a cgroup v2 hierarchy (e.g. under /sys/fs/cgroup or /sys/fs/cgroup/unified).',
  [BpfErrorCodes.ATTACH]: 'Check that the kernel supports cgroup socket programs (`airlock doctor`).',
  [BpfErrorCodes.PID]: 'Register the process while it is alive (start it blocked, register it, then let it exec).',
};

function bpfError(code: BpfErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): BpfError {
  return new BpfError(code, message, { hint: HINTS[code], details, cause });
}

export class BpfLoader {
  readonly ready: LoaderReady;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly options: Required<Omit<BpfLoaderOptions, 'path'>>;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: LoaderEvent) => void>();
  private readonly ids = new Map<number, string>();
  private readonly rules = new Map<string, Map<number, RuleInfo>>();
  /** Resolves when the loader process has ended, for whatever reason. */
  readonly exited: Promise<LoaderExit>;
  private readonly stderr: { tail: string };
  private gone = false;
  private seq = 0;

  private constructor(child: ChildProcessWithoutNullStreams, ready: LoaderReady, options: BpfLoader['options'], stderr: { tail: string }, exited: Promise<LoaderExit>) {
    this.child = child;
    this.ready = ready;
    this.options = options;
    this.stderr = stderr;
    this.exited = exited;
    // a write after the loader died: the exit handler below rejects the request
    child.stdin.on('error', () => undefined);
    void exited.then(({ code, signal }) => {
      this.gone = true;
      const error = bpfError(BpfErrorCodes.LOADER_EXITED, `the BPF loader exited (code ${code}, signal ${signal})`, { code, signal, stderr: stderr.tail });
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(error);
      }
      this.pending.clear();
    });
  }

  /** Starts the loader and waits until its programs are loaded. */
  static async start(options: BpfLoaderOptions = {}): Promise<BpfLoader> {
    const path = options.path ?? defaultLoaderPath();
    const opts = { startTimeoutMs: options.startTimeoutMs ?? 15_000, requestTimeoutMs: options.requestTimeoutMs ?? 10_000 };
    await access(path, constants.X_OK).catch((cause: unknown) => {
      throw bpfError(BpfErrorCodes.LOADER_MISSING, `the BPF loader ${path} is missing or not executable`, { path }, cause);
    });
    const child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stderr = { tail: '' };
    child.stderr.on('data', (d: Buffer) => {
      stderr.tail = (stderr.tail + d.toString()).slice(-STDERR_KEEP);
    });
    const exit = new Promise<LoaderExit>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
    const iterator = lines[Symbol.asyncIterator]();

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(bpfError(BpfErrorCodes.TIMEOUT, `the BPF loader was not ready within ${opts.startTimeoutMs} ms`, { path })), opts.startTimeoutMs);
    });
    const spawnError = new Promise<never>((_, reject) => {
      child.once('error', (cause) => reject(bpfError(BpfErrorCodes.LOADER_FAILED, `cannot start the BPF loader ${path}: ${cause.message}`, { path }, cause)));
    });
    spawnError.catch(() => undefined); // an 'error' after start must not become an unhandled rejection
    try {
      const first = await Promise.race([iterator.next(), timeout, spawnError]);
      if (first.done) {
        const { code, signal } = await exit;
        throw bpfError(BpfErrorCodes.LOADER_FAILED, `the BPF loader exited before it was ready (code ${code}, signal ${signal})`, { path, code, signal, stderr: stderr.tail });
      }
      const msg = parseLine(first.value);
      if (msg?.event === 'fatal') {
        throw bpfError(BpfErrorCodes.LOADER_FAILED, `the BPF loader failed: ${String(msg.error)}: ${String(msg.detail)}`, { path, stderr: stderr.tail });
      }
      if (msg?.event !== 'ready') throw bpfError(BpfErrorCodes.PROTOCOL, `the BPF loader's first line is not "ready": ${first.value.slice(0, 200)}`, { path });
      const ready: LoaderReady = {
        pid: Number(msg.pid),
        kaudit: msg.kaudit as KernelAuditMode,
        kauditEnabled: msg.kauditEnabled === true,
        kauditNote: String(msg.kauditNote ?? ''),
      };
      const loader = new BpfLoader(child, ready, opts, stderr, exit);
      loader.listen(iterator);
      return loader;
    } catch (error) {
      lines.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Subscribes to events; returns the unsubscribe function. */
  on(listener: (e: LoaderEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get pid(): number {
    return this.ready.pid;
  }

  async ping(): Promise<LoaderStatus> {
    const r = await this.request({ cmd: 'ping' });
    return { agents: Number(r.agents), tracked: Number(r.tracked), lost: Number(r.lost), openAudit: r.openAudit === true, kaudit: r.kaudit as KernelAuditMode };
  }

  /**
   * Enforces `policy.network` on the cgroup v2 directory `cgroup` (must exist,
   * processes not yet started in it), and audits it as the policy says.
   */
  async addAgent(id: string, cgroup: string, policy: CompiledPolicy): Promise<AgentRegistration> {
    const tables = egressTables(policy);
    const r = await this.request({ cmd: 'add-agent', id, cgroup, policy: tables.policy });
    const agent = Number(r.agent);
    this.ids.set(agent, id);
    this.rules.set(id, tables.rules);
    return { agent, cgroupId: String(r.cgroupId) };
  }

  /** Switches a running agent to a new policy, atomically for its programs. */
  async updatePolicy(id: string, policy: CompiledPolicy): Promise<void> {
    const tables = egressTables(policy);
    await this.request({ cmd: 'update-policy', id, policy: tables.policy });
    this.rules.set(id, tables.rules);
  }

  /** Tracks `pid` (and, from then on, its children) as the agent's. Do it before the process execs. */
  async trackPid(id: string, pid: number): Promise<void> {
    await this.request({ cmd: 'track-pid', id, pid });
  }

  /** Detaches the programs from the agent's cgroup and forgets it. */
  async removeAgent(id: string): Promise<void> {
    await this.request({ cmd: 'remove-agent', id });
    for (const [n, name] of this.ids) if (name === id) this.ids.delete(n);
    this.rules.delete(id);
  }

  /** Ends the loader: it detaches from every agent and restores the audit settings. */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.gone) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGTERM'), timeoutMs);
      const hard = setTimeout(() => this.child.kill('SIGKILL'), 2 * timeoutMs);
      await this.exited;
      clearTimeout(timer);
      clearTimeout(hard);
    }
  }

  private async request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.gone) throw bpfError(BpfErrorCodes.LOADER_EXITED, 'the BPF loader is not running', { stderr: this.stderr.tail });
    const seq = ++this.seq;
    const cmd = String(body.cmd);
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(bpfError(BpfErrorCodes.TIMEOUT, `the BPF loader did not answer "${cmd}" within ${this.options.requestTimeoutMs} ms`, { cmd }));
      }, this.options.requestTimeoutMs);
      this.pending.set(seq, { resolve, reject, timer, cmd });
    });
    this.child.stdin.write(`${JSON.stringify({ ...body, seq })}\n`);
    return reply;
  }

  private listen(lines: AsyncIterator<string>): void {
    void (async () => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) this.handleLine(r.value);
    })();
  }

  private handleLine(line: string): void {
    const msg = parseLine(line);
    if (!msg) return this.emit({ kind: 'malformed', error: bpfError(BpfErrorCodes.PROTOCOL, `unreadable line from the BPF loader: ${line.slice(0, 200)}`) });
    if (typeof msg.event === 'string') return this.handleEvent(msg);
    const p = typeof msg.seq === 'number' ? this.pending.get(msg.seq) : undefined;
    if (!p) return this.emit({ kind: 'malformed', error: bpfError(BpfErrorCodes.PROTOCOL, `a reply to no request: ${line.slice(0, 200)}`) });
    this.pending.delete(msg.seq as number);
    clearTimeout(p.timer);
    if (msg.ok === true) return p.resolve(msg);
    const loaderCode = String(msg.code);
    const code = REPLY_CODES[loaderCode] ?? BpfErrorCodes.PROTOCOL;
    p.reject(bpfError(code, `BPF loader refused "${p.cmd}": ${String(msg.error)}`, { loaderCode, cmd: p.cmd }));
  }

  private handleEvent(msg: Record<string, unknown>): void {
    switch (msg.event) {
      case 'bpf': {
        let event: BpfEvent;
        try {
          event = decodeEvent(Buffer.from(String(msg.data), 'base64'));
        } catch (error) {
          return this.emit({ kind: 'malformed', error: error as BpfError });
        }
        const agentId = this.ids.get(event.agent);
        const rule = event.type === 'connect' && event.rule && agentId ? this.rules.get(agentId)?.get(event.rule) : undefined;
        return this.emit({ kind: 'bpf', agentId, event, ...(rule ? { rule } : {}) });
      }
      case 'kaudit':
        return this.emit({
          kind: 'kaudit',
          agentId: String(msg.id),
          layer: msg.kind === 'seccomp' ? 'seccomp' : 'landlock',
          type: Number(msg.type),
          pid: Number(msg.pid ?? msg.domainPid),
          denied: msg.denied === true,
          record: String(msg.record),
        });
      case 'killed':
        return this.emit({
          kind: 'killed',
          agentId: String(msg.id),
          reason: String(msg.reason),
          pid: Number(msg.pid),
          inKernel: msg.inKernel === true,
          cgroupKill: msg.cgroupKill === true,
          latencyNs: Number(msg.latencyNs),
        });
      case 'lost':
        return this.emit({ kind: 'lost', count: Number(msg.count), total: Number(msg.total) });
      default:
        return this.emit({ kind: 'malformed', error: bpfError(BpfErrorCodes.PROTOCOL, `unknown event "${String(msg.event)}" from the BPF loader`) });
    }
  }

  private emit(e: LoaderEvent): void {
    for (const l of this.listeners) l(e);
  }
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
