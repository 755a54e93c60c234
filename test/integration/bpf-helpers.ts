/**
 * Helpers for the BPF suites (real kernel, root): cgroup v2 directories,
 * processes started inside them blocked until registered, a network
 * namespace with servers to connect to, and the Python client that tries
 * connections and sockets and reports errno names.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BpfLoader, LoaderEvent } from '../../services/enforcer/bpf/index.js';
import type { CompiledNetwork, CompiledPolicy } from '../../services/enforcer/policy/index.js';
import { runningLoaders } from '../helpers/enforcer-run.js';

export const PYTHON = '/usr/bin/python3';
export const NETPROBE = resolve(__dirname, 'bpf-fixtures/netprobe.py');
const NETSERVER = resolve(__dirname, 'bpf-fixtures/netserver.py');

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The cgroup2 mount: /sys/fs/cgroup on pure v2 hosts, /sys/fs/cgroup/unified on hybrid ones. */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup2 ')) return left!.split(' ')[4]!;
  }
  throw new Error('no cgroup2 hierarchy is mounted');
}

const TEST_PARENT = `airlock-bpftest-${process.pid}`;

/** A fresh cgroup v2 directory for one test. */
export class TestCgroup {
  private static n = 0;
  private constructor(readonly path: string) {}

  static create(tag: string): TestCgroup {
    const parent = join(cgroup2Root(), TEST_PARENT);
    mkdirSync(parent, { recursive: true });
    const path = join(parent, `${tag}-${TestCgroup.n++}`);
    mkdirSync(path);
    return new TestCgroup(path);
  }

  procs(): number[] {
    return readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  }

  add(pid: number): void {
    writeFileSync(join(this.path, 'cgroup.procs'), `${pid}\n`);
  }

  /** SIGKILL to every process in it (cgroup.kill). */
  kill(): void {
    writeFileSync(join(this.path, 'cgroup.kill'), '1');
  }

  /** Kills what is left, waits until empty, removes the directory. */
  async destroy(): Promise<void> {
    if (!existsSync(this.path)) return;
    this.kill();
    await waitFor(`${this.path} to empty`, () => this.procs().length === 0);
    rmdirSync(this.path);
  }
}

/** Removes this run's parent directory; returns the cgroups that were still there. */
export function removeTestParent(): string[] {
  const parent = join(cgroup2Root(), TEST_PARENT);
  if (!existsSync(parent)) return [];
  const left = readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  if (left.length === 0) rmdirSync(parent);
  return left;
}

export interface Started {
  child: ChildProcess;
  pid: number;
  output(): string;
  errors(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lets it exec argv. */
  go(): void;
}

/**
 * Starts argv blocked inside `cg`: a shell already in the cgroup waits on
 * stdin, so the test can register its pid before it runs anything.
 */
export async function startBlocked(cg: TestCgroup | undefined, argv: string[], options: { mountNamespace?: boolean } = {}): Promise<Started> {
  // an agent's opens are audited only in a mount namespace of its own (the launcher makes one)
  const gate = ['/bin/sh', '-c', 'read _ && exec "$@"', 'gate', ...argv];
  const [file, ...args] = options.mountNamespace ? ['unshare', '--mount', '--propagation', 'slave', ...gate] : gate;
  const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  // 'close': the process ended and its output has all been read
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  await new Promise<void>((r, reject) => child.once('spawn', r).once('error', reject));
  if (options.mountNamespace) {
    // spawned is not yet unshared: wait until its namespace is its own
    const ours = readlinkSync('/proc/self/ns/mnt');
    await waitFor('the mount namespace of its own', () => {
      try {
        return readlinkSync(`/proc/${child.pid}/ns/mnt`) !== ours;
      } catch {
        return true; // it ended: nothing to wait for
      }
    });
  }
  cg?.add(child.pid!);
  return { child, pid: child.pid!, output: () => out, errors: () => err, exited, go: () => child.stdin!.end('\n') };
}

export type ProbeOp =
  | { op: 'tcp'; host: string; port: number; timeout?: number }
  | { op: 'tcp-fastopen'; host: string; port: number }
  | { op: 'udp'; host: string; port: number }
  | { op: 'udp-connect'; host: string; port: number }
  | { op: 'socket'; family: 4 | 6; type: 'stream' | 'dgram' | 'raw'; proto?: number }
  | { op: 'open'; path: string }
  | { op: 'sleep'; seconds: number };

export interface ProbeRun {
  pid: number;
  /** "ok" or the errno name (EPERM, ECONNREFUSED ...) or "timeout", one per op. */
  results: string[];
}

/** Runs the probe client in `cg` (outside any agent when undefined), registered with `register` first. */
export async function probe(cg: TestCgroup | undefined, ops: ProbeOp[], register?: (pid: number) => Promise<void>): Promise<ProbeRun & Started> {
  // an agent's process has a mount namespace of its own, as under the launcher
  const s = await startBlocked(cg, [PYTHON, NETPROBE, JSON.stringify(ops)], { mountNamespace: register !== undefined });
  if (register) await register(s.pid);
  s.go();
  const { code, signal } = await s.exited;
  if (code !== 0) throw Object.assign(new Error(`probe exited ${code} ${signal}: ${s.errors()}`), { code, signal, started: s });
  return { ...s, ...(JSON.parse(s.output()) as ProbeRun) };
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A network namespace behind a veth pair, with TCP servers on 53, 8080 and
 * 9090 and UDP on 53 and 5353, over IPv4 and IPv6.
 */
export class TestNetns {
  readonly name: string;
  readonly host4: string;
  readonly ns4: string;
  readonly host6: string;
  readonly ns6: string;
  private server?: ChildProcess;
  private readonly hostIf: string;

  constructor() {
    const id = process.pid % 100000;
    const octet = 100 + (process.pid % 150);
    this.name = `albpf${id}`;
    this.hostIf = `alh${id}`;
    this.host4 = `10.213.${octet}.1`;
    this.ns4 = `10.213.${octet}.2`;
    this.host6 = `fd00:213:${octet.toString(16)}::1`;
    this.ns6 = `fd00:213:${octet.toString(16)}::2`;
  }

  async up(): Promise<void> {
    const nsIf = this.hostIf.replace('alh', 'aln');
    ip('netns', 'add', this.name);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', this.name);
    ip('addr', 'add', `${this.host4}/24`, 'dev', this.hostIf);
    ip('-6', 'addr', 'add', `${this.host6}/64`, 'dev', this.hostIf, 'nodad');
    ip('link', 'set', this.hostIf, 'up');
    ip('-n', this.name, 'addr', 'add', `${this.ns4}/24`, 'dev', nsIf);
    ip('-n', this.name, '-6', 'addr', 'add', `${this.ns6}/64`, 'dev', nsIf, 'nodad');
    ip('-n', this.name, 'link', 'set', nsIf, 'up');
    ip('-n', this.name, 'link', 'set', 'lo', 'up');
    const server = spawn('ip', ['netns', 'exec', this.name, PYTHON, NETSERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.server = server;
    let out = '';
    server.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('the namespace servers', () => out.includes('ready') || server.exitCode !== null);
    if (!out.includes('ready')) throw new Error('the namespace servers did not start');
  }

  async down(): Promise<void> {
    if (this.server && this.server.exitCode === null) {
      const gone = new Promise((r) => this.server!.once('exit', r));
      this.server.kill('SIGKILL');
      await gone;
    }
    try {
      ip('link', 'del', this.hostIf);
    } catch {
      // already gone with the namespace
    }
    try {
      ip('netns', 'del', this.name);
    } catch {
      // never created
    }
  }
}

/** A policy that is allowed nothing but what the test gives it. */
export function testPolicy(network: Partial<CompiledNetwork>, extra: Partial<CompiledPolicy> = {}): CompiledPolicy {
  return {
    name: 'bpf-test',
    source: 'test',
    sourceSha256: '0'.repeat(64),
    onViolation: 'deny',
    filesystem: { read: [], write: [], exec: [] },
    network: { allow: [], deny: [], loopback: false, ...network },
    execution: { spawn: true, exec: true, maxProcesses: 64, maxMemoryBytes: 1 << 30, timeoutSeconds: 600 },
    audit: { allows: false },
    ...extra,
  };
}

/** An egress rule from CIDR text. */
export function rule(cidr: string, ports: Array<[number, number]> = [], protocol: 'any' | 'tcp' | 'udp' = 'any') {
  const [address, len] = cidr.split('/') as [string, string | undefined];
  const family = address.includes(':') ? (6 as const) : (4 as const);
  return { address, prefix: len === undefined ? (family === 4 ? 32 : 128) : Number(len), family, ports, protocol, source: cidr };
}

/** Records every event of the loader. */
export function recorder(loader: BpfLoader): { events: LoaderEvent[]; stop: () => void } {
  const events: LoaderEvent[] = [];
  const stop = loader.on((e) => events.push(e));
  return { events, stop };
}

/** Names of the loaded BPF programs (bpftool), to check that nothing of ours is left. */
export function loadedPrograms(): string[] {
  const out = execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ name?: string }>).map((p) => p.name ?? '');
}

export const OUR_PROGRAMS = ['al_connect4', 'al_connect6', 'al_sendmsg4', 'al_sendmsg6', 'al_sock_create', 'al_connect_unix', 'al_sendmsg_unix', 'al_fork', 'al_exec', 'al_exit'];

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Waits until no other loader runs: a broker of an earlier suite lingers a
 * few seconds, and when it stops, the host's audit settings change under a
 * suite that compares them.
 */
export async function noOtherLoaders(): Promise<void> {
  await waitFor('loaders of earlier suites to stop', () => runningLoaders().length === 0, 15_000);
}
