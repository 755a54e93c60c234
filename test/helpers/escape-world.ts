/**
 * The world of the escape suite (test/e2e/42_escape.test.ts), as root on the
 * real kernel: a temp prefix and fixture trees whose files any uid may read
 * and write (nobody's, world-writable: every agent runs as a uid of its own,
 * and only the enforcer must stand in the way), the escape probe compiled
 * with gcc, a process outside any agent, servers in a network namespace, on
 * the host end of its veth and on loopback, a cgroup delegated to the agent's
 * uid, and a file handle. It runs the probe through the real `airlock run`
 * (streaming its output), or directly on the host, and reads the audit file
 * back on its own.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync, symlinkSync, lchownSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNetns } from '../integration/bpf-helpers.js';
import { NOBODY, PYTHON, waitFor } from './enforcer-run.js';
import { AIRLOCK_BIN } from './run-airlock.js';

export { NOBODY };
export type Mode = 'deny' | 'kill';
export type Profile = 'sandbox' | 'development' | 'production';

const PROBE_SOURCE = fileURLToPath(new URL('../e2e/escape-cases/escape-probe.c', import.meta.url));
/** Outside /tmp: each agent sees its own /tmp. */
const BASE = '/var/tmp';

/** Files of a fixture tree's `out/` folder (not granted to any policy, itself 0777), each nobody's, mode 0666. */
const OUT_FILES = [
  'direct', 'symlink-before', 'symlink-during', 'hardlink', 'proc-root', 'dotdot', 'write', 'rename', 'steal', 'unlink',
  'chmod', 'xattr', 'utimes', 'truncate', 'chown', 'swapped',
];

export interface ProbeStep {
  index: number;
  op: string;
  result: string;
}

export interface ProbeOutput {
  /** getpid() as the probe saw it. */
  pid: number | null;
  steps: ProbeStep[];
  marks: string[];
  done: boolean;
  /** Other lines (forkbomb counts ...). */
  other: string[];
}

export interface EscapeRun extends ProbeOutput {
  code: number;
  json: any;
  stderr: string;
  /** This agent's events, read from the audit file. */
  events: any[];
  /** The agent had its own PID namespace (its getpid() differs from the pid airlock reports). */
  pidns: boolean;
  vars: Vars;
  ms: number;
}

export type Vars = Record<string, string>;

export function parseProbe(text: string): ProbeOutput {
  const out: ProbeOutput = { pid: null, steps: [], marks: [], done: false, other: [] };
  for (const line of text.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^probe pid (\d+)$/.exec(line))) out.pid = Number(m[1]);
    else if ((m = /^step (\d+) (\S+) (\S+)$/.exec(line))) out.steps.push({ index: Number(m[1]), op: m[2]!, result: m[3]! });
    else if ((m = /^mark (.*)$/.exec(line))) out.marks.push(m[1]!);
    else if (line === 'done') out.done = true;
    else if (line.trim()) out.other.push(line);
  }
  return out;
}

/** Fills `{name}` placeholders; an unknown name is an error (a typo must not pass as a literal path). */
export function expand(template: string, vars: Vars): string {
  return template.replace(/\{([a-zA-Z0-9]+)\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return value;
  });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => resolve());
  });
}

function acceptAndClose(): Server {
  return createServer((s) => s.on('error', () => undefined).end());
}

/** A snapshot of what an attempt on a file could change. */
export function fileState(path: string): string {
  if (!existsSync(path)) return 'missing';
  const st = statSync(path);
  const xattrs = execFileSync(PYTHON, ['-c', 'import os,sys; print(sorted(os.listxattr(sys.argv[1])))', path], { encoding: 'utf8' }).trim();
  return JSON.stringify({ mode: st.mode, uid: st.uid, size: st.size, mtimeNs: String(statSync(path, { bigint: true }).mtimeNs), content: readFileSync(path, 'latin1'), xattrs });
}

export class EscapeWorld {
  readonly root: string;
  readonly prefix: string;
  readonly bin: string;
  readonly probe: string;
  readonly outsiderDir: string;
  readonly ns = new TestNetns();
  lport = 0;
  handle = '';
  /** A UNIX stream socket on the host that any uid may connect to. */
  readonly hostSocket: string;
  /** A process of the agent's uid outside any agent, for agents to aim at. */
  outsider!: ChildProcess;
  #outsiders: ChildProcess[] = [];
  readonly cgroupParent: string;
  readonly away: string;
  /** Every agent id our runs were given. */
  readonly agents: string[] = [];
  #servers: Server[] = [];
  #trees = 0;
  #policies = new Map<string, string>();
  #auditLock: Promise<void> = Promise.resolve();

  private constructor() {
    this.root = mkdtempSync(join(BASE, 'airlock-escape-'));
    chmodSync(this.root, 0o755);
    this.prefix = join(this.root, 'prefix');
    this.bin = join(this.root, 'bin');
    this.probe = join(this.bin, 'escape-probe');
    this.outsiderDir = join(this.root, 'outsider');
    this.cgroupParent = `/sys/fs/cgroup/pids/airlock-escape-${process.pid}`;
    this.away = join(this.cgroupParent, 'away');
    this.hostSocket = join(this.root, 'host.sock');
  }

  static async create(): Promise<EscapeWorld> {
    const w = new EscapeWorld();
    try {
      await w.#setUp();
    } catch (e) {
      await w.cleanup();
      throw e;
    }
    return w;
  }

  async #setUp(): Promise<void> {
    mkdirSync(this.bin, { mode: 0o755 });
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', this.probe, PROBE_SOURCE, '-lpthread'], { stdio: 'pipe' });
    chmodSync(this.probe, 0o755);

    mkdirSync(this.outsiderDir, { mode: 0o755 });
    writeFileSync(join(this.outsiderDir, 'cwd-secret'), 'secret of the outsider\n', { mode: 0o600 });
    for (const p of ['', 'cwd-secret']) chownSync(join(this.outsiderDir, p), NOBODY, NOBODY);
    this.outsider = await this.spawnOutsider();

    // A file handle, made outside (open_by_handle_at is what the agent must not get to use).
    const target = join(this.root, 'handle-target');
    writeFileSync(target, 'reached by handle\n', { mode: 0o600 });
    chownSync(target, NOBODY, NOBODY);
    const made = parseProbe(execFileSync(this.probe, [`print-handle:${target}`], { encoding: 'utf8' }));
    const line = made.other.find((l) => l.startsWith('handle '));
    if (!line) throw new Error('could not make a file handle');
    const [, type, hex] = line.split(' ');
    this.handle = `${type},${hex}`;

    // A cgroup delegated to the agent's uid: by permissions alone it could move there.
    mkdirSync(this.cgroupParent);
    mkdirSync(this.away);
    chownSync(join(this.away, 'cgroup.procs'), NOBODY, NOBODY);

    await this.ns.up();
    const loopback = acceptAndClose();
    await listen(loopback, '127.0.0.1', 0);
    this.lport = (loopback.address() as { port: number }).port;
    const loopback6 = acceptAndClose();
    await listen(loopback6, '::1', this.lport);
    this.#servers.push(loopback, loopback6);
    const unix = acceptAndClose();
    await new Promise<void>((resolve, reject) => unix.once('error', reject).listen(this.hostSocket, resolve));
    chmodSync(this.hostSocket, 0o777); // no permission stands in the way: only the enforcer may
    this.#servers.push(unix);
    for (const [host, port] of [[this.ns.host4, 8080], [this.ns.host4, 53], [this.ns.host6, 8080], [this.ns.host6, 53]] as const) {
      const s = acceptAndClose();
      await listen(s, host, port);
      this.#servers.push(s);
    }
  }

  /** Another process of the agent's uid outside any agent (`sleep`, cwd the outsider's folder); killed by cleanup(). */
  async spawnOutsider(): Promise<ChildProcess> {
    const child = spawn('/bin/sleep', ['3600'], { cwd: this.outsiderDir, uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
    this.#outsiders.push(child);
    await new Promise<void>((r, j) => child.once('spawn', r).once('error', j));
    return child;
  }

  get auditFile(): string {
    return join(this.prefix, 'var', 'audit', 'enforcer.jsonl');
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, AIRLOCK_PREFIX: this.prefix, HOME: this.root };
  }

  /** A fresh fixture tree: `ws/` (the workspace, nobody's: each run lends it to its agent) and `out/` beside it, open to any uid, nothing of out/ granted. */
  tree(): Vars {
    const dir = join(this.root, `tree-${this.#trees++}`);
    const ws = join(dir, 'ws');
    const out = join(dir, 'out');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const d of [ws, out, join(out, 'empty'), join(ws, 'empty')]) {
      mkdirSync(d, { mode: 0o755 });
      chownSync(d, NOBODY, NOBODY);
      if (d.startsWith(out)) chmodSync(d, 0o777);
    }
    for (const f of OUT_FILES) {
      writeFileSync(join(out, f), `secret ${f}\n`, { mode: 0o666 });
      chmodSync(join(out, f), 0o666);
      chownSync(join(out, f), NOBODY, NOBODY);
    }
    writeFileSync(join(ws, 'in.txt'), 'input of the agent\n');
    chownSync(join(ws, 'in.txt'), NOBODY, NOBODY);
    symlinkSync(join(out, 'symlink-before'), join(ws, 'link-before'));
    lchownSync(join(ws, 'link-before'), NOBODY, NOBODY);
    // A program "it wrote": a copy of /bin/true in the workspace, executable.
    copyFileSync('/bin/true', join(ws, 'dropped'));
    chownSync(join(ws, 'dropped'), NOBODY, NOBODY);
    chmodSync(join(ws, 'dropped'), 0o755);
    return { ...this.vars(), ws, out, tag: `tree-${this.#trees - 1}` };
  }

  /** The placeholders every run has (the tree adds ws and out). */
  vars(): Vars {
    return {
      prefix: this.prefix,
      audit: this.auditFile,
      bin: this.bin,
      outsider: String(this.outsider.pid),
      outsiderDir: this.outsiderDir,
      ns4: this.ns.ns4,
      ns6: this.ns.ns6,
      host4: this.ns.host4,
      host6: this.ns.host6,
      lport: String(this.lport),
      away: this.away,
      handle: this.handle,
      hostsock: this.hostSocket,
    };
  }

  /** The policy file of a profile and mode (development and production may execute the probe from its folder). */
  policy(profile: Profile, mode: Mode, execution: Record<string, number> = {}): string {
    const key = `${profile}-${mode}${Object.entries(execution).map(([k, v]) => `-${k}-${v}`).join('')}`.replace(/[^a-z0-9-]/gi, '-');
    const known = this.#policies.get(key);
    if (known) return known;
    const lines = ['agent_policy:', `  extends: ${profile}`, `  on_violation: ${mode}`];
    if (profile === 'production') lines.push('  network:', `    allow_egress: ["tcp://${this.ns.ns4}:8080", "tcp://[${this.ns.ns6}]:8080"]`);
    if (profile !== 'sandbox') lines.push('  filesystem:', `    exec: ["${this.bin}"]`);
    if (Object.keys(execution).length) lines.push('  execution:', ...Object.entries(execution).map(([k, v]) => `    ${k}: ${v}`));
    const file = join(this.root, `${key}.yaml`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    this.#policies.set(key, file);
    return file;
  }

  /**
   * `airlock run --json` of the probe with these steps (templates), in the
   * tree's workspace (or its own default one). `onLine` sees each line of the
   * probe as it comes.
   */
  async run(
    profile: Profile,
    mode: Mode,
    steps: string[],
    opts: { vars?: Vars; defaultWorkspace?: boolean; execution?: Record<string, number>; prefix?: string; onLine?: (line: string, child: ChildProcess) => void } = {},
  ): Promise<EscapeRun> {
    const vars = opts.vars ?? this.tree();
    const args = ['run', '--json', '--policy', this.policy(profile, mode, opts.execution)];
    if (!opts.defaultWorkspace) args.push('--workspace', vars.ws!);
    if (profile === 'production') args.push('--resolver', `${this.ns.ns4}:53`);
    args.push('--', this.probe, ...steps.map((s) => expand(s, vars)));
    const started = Date.now();
    const env = opts.prefix ? { ...this.env, AIRLOCK_PREFIX: opts.prefix } : this.env;
    const child = spawn(process.execPath, [AIRLOCK_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
      partial += c.toString();
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) opts.onLine?.(line, child);
    });
    const code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c ?? -1));
    });
    let json: any;
    try {
      json = JSON.parse(stdout);
    } catch {
      throw new Error(`airlock run did not print its result (exit ${code}): ${stderr}`);
    }
    if (json.agent) this.agents.push(json.agent);
    const output = parseProbe(stderr);
    const events = json.agent && !opts.prefix ? this.events(json.agent) : [];
    return { ...output, code, json, stderr, events, pidns: output.pid !== null && output.pid !== json.pid, vars, ms: Date.now() - started };
  }

  /**
   * Runs the attempt with the audit log's modes loosened (folder 0755, file
   * 0666) from the moment the agent is ready until it ended: the policy alone
   * then protects it. One such run at a time; airlock puts the modes back
   * when it next opens the log, and so does this.
   */
  async runWithAuditLogOpen(profile: Profile, mode: Mode, steps: string[], vars: Vars = this.tree()): Promise<EscapeRun> {
    const previous = this.#auditLock;
    let release!: () => void;
    this.#auditLock = new Promise((r) => (release = r));
    await previous;
    const dir = join(this.prefix, 'var', 'audit');
    try {
      return await this.run(profile, mode, ['mark:ready', `wait:${vars.ws}/go`, ...steps], {
        vars,
        onLine: (line) => {
          if (line !== 'mark ready') return;
          chmodSync(dir, 0o755);
          chmodSync(this.auditFile, 0o666);
          writeFileSync(join(vars.ws!, 'go'), '');
        },
      });
    } finally {
      if (existsSync(dir)) chmodSync(dir, 0o700);
      if (existsSync(this.auditFile)) chmodSync(this.auditFile, 0o600);
      release();
    }
  }

  /** The probe run directly on the host, outside any agent: as nobody, or as root in a private mount namespace. */
  host(steps: string[], as: 'nobody' | 'root', vars: Vars): ProbeOutput & { code: number } {
    const argv = steps.map((s) => expand(s, vars));
    const [cmd, args] =
      as === 'nobody'
        ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', this.probe, ...argv]]
        : ['unshare', ['--mount', '--propagation', 'private', this.probe, ...argv]];
    try {
      const out = execFileSync(cmd, args as string[], { encoding: 'utf8', cwd: vars.ws, timeout: 20_000 });
      return { ...parseProbe(out), code: 0 };
    } catch (e) {
      const err = e as { status?: number; stdout?: string };
      return { ...parseProbe(err.stdout ?? ''), code: err.status ?? -1 };
    }
  }

  /** Every event of the audit file (read independently of airlock), of one agent if given. */
  events(agent?: string): any[] {
    if (!existsSync(this.auditFile)) return [];
    const all = readFileSync(this.auditFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return agent === undefined ? all : all.filter((e) => e.agent === agent);
  }

  /** Pids of processes whose command line contains `marker`. */
  processesWith(marker: string): number[] {
    const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > 2 && !f[1]!.startsWith('Z') && f.slice(2).join(' ').includes(marker) && !f[2]!.includes('node'))
      .map((f) => Number(f[0]));
  }

  async cleanup(): Promise<void> {
    for (const c of this.#outsiders) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(this.#servers.map((s) => new Promise((r) => s.close(r))));
    await this.ns.down();
    for (const dir of [this.away, this.cgroupParent]) {
      if (!existsSync(dir)) continue;
      await waitFor(`${dir} to empty`, () => readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() === '', 5000).catch(() => undefined);
      rmdirSync(dir);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Runs `task` over `items` with at most `limit` at a time; one promise per item, in order (each settles on its own). */
export function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Array<Promise<R>> {
  let running = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    running--;
    queue.shift()?.();
  };
  return items.map(
    (item) =>
      new Promise<R>((resolve, reject) => {
        const start = () => {
          running++;
          task(item).then(resolve, reject).finally(next);
        };
        if (running < limit) start();
        else queue.push(start);
      }),
  );
}
