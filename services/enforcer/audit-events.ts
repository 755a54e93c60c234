/**
 * The audit event: one decision of the enforcer about one operation of an
 * agent. AuditTranslator turns what the BPF broker forwards (eBPF events,
 * kernel audit records of Landlock and seccomp, kills) into these events and
 * spots the first violation. Pure: no I/O, the clock is passed in.
 */
import type { BpfEvent, RuleInfo } from './bpf/index.js';
import type { ForwardedEvent } from './bpf-broker/index.js';
import { formatIp, parseIp } from './policy/addresses.js';
import type { CompiledPolicy } from './policy/index.js';
import { ESCAPE_SYSCALLS, SYSCALLS } from './seccomp/index.js';

export type AuditLayer = 'landlock' | 'seccomp' | 'ebpf' | 'cgroup' | 'enforcer';
export type AuditVerdict = 'allow' | 'deny' | 'kill';

/** One line of the audit event file (JSON, one object a line). */
export interface AuditEvent {
  /** ISO 8601, UTC, millisecond precision. */
  time: string;
  agent: string;
  /**
   * The process. Landlock records name only the sandbox domain, so for them
   * this is the agent's first process (the domain's creator), not the caller.
   */
  pid: number | null;
  /** Executable path when known (exec events, seccomp records), else the command name, else null. */
  exe: string | null;
  operation: string;
  /** What the operation was aimed at: a path, address:port/protocol, syscall, process ... */
  target: string;
  verdict: AuditVerdict;
  layer: AuditLayer;
  /** The policy rule (or the absence of one) that decided. */
  rule: string;
  /** The policy's name. */
  policy: string;
  /** Extra facts of some events (kill latency, usage at the end ...). */
  detail?: Record<string, unknown>;
}

/** The first denied operation of an agent whose policy kills on violation. */
export interface Violation {
  layer: AuditLayer;
  operation: string;
  target: string;
  rule: string;
  pid: number | null;
  exe: string | null;
  time: string;
}

/** The loader's report that it ended the agent's tree. */
export interface KillReport {
  layer: AuditLayer;
  pid: number;
  /** The eBPF program killed the offender before its syscall returned. */
  inKernel: boolean;
  /** From the denial to the whole tree signalled (ms), when the loader measured it. */
  latencyMs: number | null;
}

export interface Translation {
  events: AuditEvent[];
  /** Set on the first denial of a killing agent. */
  violation?: Violation;
  kill?: KillReport;
  /** Records the ring buffer dropped (counted, not audited one by one). */
  lost?: number;
}

export interface TranslatorContext {
  agent: string;
  policy: Pick<CompiledPolicy, 'name' | 'onViolation' | 'audit' | 'execution'>;
  /** The agent's first process and the program it executes (its exec event shows /dev/fd/N: the launcher execs a descriptor). */
  pid: number;
  program: string;
  /** Wall-clock time of a CLOCK_MONOTONIC timestamp in nanoseconds. */
  wallClock: (monotonicNs: number) => Date;
}

const SYSCALL_NAMES = new Map<number, string>(Object.entries(SYSCALLS).map(([name, nr]) => [nr, name]));
const SECCOMP_RET_ACTION = 0xffff0000;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const SECCOMP_RET_KILL_THREAD = 0x00000000;

/**
 * Landlock's access names (kernel audit `blockers=`) that one request asks
 * for alone → our operation names. Filesystem rights are named by
 * landlockOperation(), which looks at the whole set.
 */
const LANDLOCK_OPERATIONS: Record<string, string> = {
  'fs.change_topology': 'mount',
  'net.bind_tcp': 'bind',
  'net.connect_tcp': 'connect',
  'scope.abstract_unix_socket': 'connect-unix',
  'scope.signal': 'signal',
};

/**
 * The filesystem rights one syscall asks for together: opening a file to
 * execute it (execute, read), opening it (read, write, truncate), and
 * changing a folder's entries (make_*, remove_*: create, mknod, unlink,
 * rmdir, a rename within the folder). A denial whose rights fit none of
 * these is Landlock comparing a file's rights at its source with those of
 * its destination: a link or rename into another folder.
 */
const FS_REQUESTS: ReadonlyArray<(right: string) => boolean> = [
  (r) => r === 'fs.execute' || r === 'fs.read_file',
  (r) => r === 'fs.read_file' || r === 'fs.write_file' || r === 'fs.truncate',
  (r) => r.startsWith('fs.make_') || r.startsWith('fs.remove_'),
  (r) => r === 'fs.read_dir',
  (r) => r === 'fs.ioctl_dev',
];

const REASONS: Record<string, string> = {
  rule: 'an egress rule allows this socket kind',
  'no-rule': 'no egress rule matches (default deny)',
  dns: 'DNS goes only to the appliance resolver',
  'unknown-agent': 'cgroup without a policy (fail closed)',
  'socket-type': 'socket kind not allowed by the policy',
  'unix-path': 'no policy reaches a pathname UNIX socket',
};

export class AuditTranslator {
  readonly #ctx: TranslatorContext;
  /** pid → executable, from exec events (children inherit their parent's until they exec). */
  readonly #exe = new Map<number, string>();
  #violation: Violation | undefined;
  /** The first process has executed the agent's program. */
  #launched = false;

  constructor(ctx: TranslatorContext) {
    this.#ctx = ctx;
    this.#exe.set(ctx.pid, ctx.program);
  }

  /** The first violation seen (kill mode only). */
  get violation(): Violation | undefined {
    return this.#violation;
  }

  translate(event: ForwardedEvent): Translation {
    switch (event.kind) {
      case 'bpf':
        return this.#bpf(event.event, event.rule);
      case 'kaudit':
        return event.layer === 'seccomp' ? this.#seccomp(event.pid, event.record) : this.#landlock(event.pid, event.record);
      case 'killed':
        return this.#killed(event);
      case 'lost':
        return { events: [], lost: event.count };
    }
  }

  #bpf(e: BpfEvent, rule: RuleInfo | undefined): Translation {
    const time = this.#ctx.wallClock(e.timeNs).toISOString();
    const exe = this.#exe.get(e.pid) ?? (e.comm || null);
    switch (e.type) {
      case 'exec': {
        // The launcher executes through a descriptor: its first exec shows /dev/fd/N.
        const launch = e.pid === this.#ctx.pid && !this.#launched && /^\/dev\/fd\/\d+$/.test(e.filename);
        if (e.pid === this.#ctx.pid) this.#launched = true;
        const path = launch ? this.#ctx.program : e.filename;
        this.#exe.set(e.pid, path);
        return this.#allow({ time, pid: e.pid, exe: path, operation: 'exec', target: path, layer: 'ebpf', rule: 'execution.exec' });
      }
      case 'spawn':
        this.#exe.set(e.child, this.#exe.get(e.pid) ?? e.comm);
        return this.#allow({ time, pid: e.pid, exe, operation: 'spawn', target: `pid ${e.child}`, layer: 'ebpf', rule: 'execution.spawn' });
      case 'exit':
        return { events: [] };
      case 'open':
        // A failed open is not a decision of ours (Landlock's denials come as kernel audit records).
        return e.ret < 0 ? { events: [] } : this.#allow({ time, pid: e.pid, exe, operation: 'open', target: e.path, layer: 'ebpf', rule: 'filesystem' });
      case 'connect': {
        const protocol = e.protocol === 6 ? 'tcp' : e.protocol === 17 ? 'udp' : `proto ${e.protocol}`;
        const fields = { time, pid: e.pid, exe, operation: e.hook.startsWith('sendmsg') ? 'send' : 'connect', target: endpoint(e.address, e.port, protocol), layer: 'ebpf' as const };
        const why = rule ? egressRule(rule) : (REASONS[e.reason] ?? e.reason);
        return e.verdict === 'allow' ? this.#allow({ ...fields, rule: why }) : this.#deny({ ...fields, rule: why });
      }
      case 'socket': {
        const family = e.family === 2 ? 'inet' : e.family === 10 ? 'inet6' : `family ${e.family}`;
        const kind = SOCKET_TYPES[e.socketType] ?? `type ${e.socketType}`;
        const fields = { time, pid: e.pid, exe, operation: 'socket', target: `${family}/${kind}/${e.protocol}`, layer: 'ebpf' as const, rule: REASONS[e.reason] ?? e.reason };
        return e.verdict === 'allow' ? this.#allow(fields) : this.#deny(fields);
      }
      case 'unix': {
        const fields = { time, pid: e.pid, exe, operation: e.hook === 'sendmsg_unix' ? 'send' : 'connect', target: `unix:${e.path}`, layer: 'ebpf' as const, rule: REASONS[e.reason] ?? e.reason };
        return e.verdict === 'allow' ? this.#allow(fields) : this.#deny(fields);
      }
    }
  }

  #seccomp(pid: number, record: string): Translation {
    const f = auditFields(record);
    const nr = Number(f.get('syscall'));
    const name = SYSCALL_NAMES.get(nr) ?? `syscall ${nr}`;
    const action = (Number.parseInt(f.get('code') ?? '0', 16) & SECCOMP_RET_ACTION) >>> 0; // >>> 0: unsigned, as the kernel means it
    const killed = action === SECCOMP_RET_KILL_PROCESS || action === SECCOMP_RET_KILL_THREAD;
    const exe = f.get('exe') ?? this.#exe.get(pid) ?? null;
    const why = ESCAPE_SYSCALLS[name as keyof typeof ESCAPE_SYSCALLS];
    const rule = SECCOMP_RULES[name] ?? (why ? `never allowed: ${why}` : `seccomp filter: ${name}`);
    return this.#deny({ time: recordTime(record), pid, exe, operation: SECCOMP_OPERATIONS[name] ?? 'syscall', target: name, layer: 'seccomp', rule, detail: { record } }, killed);
  }

  #landlock(domainPid: number, record: string): Translation {
    const f = auditFields(record);
    const blockers = f.get('blockers') ?? 'unknown';
    const target =
      f.get('path') ??
      (f.has('dest') ? endpoint(f.get('daddr'), f.get('dest')!, 'tcp') : f.has('src') ? endpoint(f.get('saddr'), f.get('src')!, 'tcp') : undefined) ??
      (f.has('opid') ? `pid ${f.get('opid')}${f.has('ocomm') ? ` (${f.get('ocomm')})` : ''}` : undefined) ??
      f.get('name') ??
      blockers;
    return this.#deny({
      time: recordTime(record),
      pid: domainPid,
      exe: null,
      operation: landlockOperation(blockers.split(',')),
      target,
      layer: 'landlock',
      rule: `not granted: ${blockers}`,
      // The kernel's own words (a create names the directory only, and the domain, not the caller).
      detail: { record },
    });
  }

  #killed(e: Extract<ForwardedEvent, { kind: 'killed' }>): Translation {
    const layer: AuditLayer = e.reason === 'landlock' ? 'landlock' : e.reason === 'seccomp' ? 'seccomp' : 'ebpf';
    const latencyMs = e.latencyNs >= 0 ? e.latencyNs / 1e6 : null;
    const kill: KillReport = { layer, pid: e.pid, inKernel: e.inKernel, latencyMs };
    const event = this.#event({
      time: new Date().toISOString(),
      pid: e.pid,
      exe: this.#exe.get(e.pid) ?? null,
      operation: 'kill',
      target: 'agent process tree',
      verdict: 'kill',
      layer,
      rule: 'on_violation: kill',
      detail: { reason: e.reason, inKernel: e.inKernel, cgroupKill: e.cgroupKill, latencyMs },
    });
    return { events: [event], kill };
  }

  #allow(fields: Omit<AuditEvent, 'agent' | 'policy' | 'verdict'>): Translation {
    return { events: this.#ctx.policy.audit.allows ? [this.#event({ ...fields, verdict: 'allow' })] : [] };
  }

  /** Denials are always audited; in a killing agent the first one is the violation. */
  #deny(fields: Omit<AuditEvent, 'agent' | 'policy' | 'verdict'>, killed = false): Translation {
    const kills = killed || this.#ctx.policy.onViolation === 'kill';
    const event = this.#event({ ...fields, verdict: kills ? 'kill' : 'deny' });
    if (!kills || this.#violation) return { events: [event] };
    const { layer, operation, target, rule, pid, exe, time } = event;
    this.#violation = { layer, operation, target, rule, pid, exe, time };
    return { events: [event], violation: this.#violation };
  }

  #event(fields: Omit<AuditEvent, 'agent' | 'policy'>): AuditEvent {
    return { time: fields.time, agent: this.#ctx.agent, pid: fields.pid, exe: fields.exe, operation: fields.operation, target: fields.target, verdict: fields.verdict, layer: fields.layer, rule: fields.rule, policy: this.#ctx.policy.name, ...(fields.detail ? { detail: fields.detail } : {}) };
  }
}

const SOCKET_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 5: 'seqpacket' };

const SECCOMP_OPERATIONS: Record<string, string> = { clone: 'spawn', fork: 'spawn', vfork: 'spawn', execve: 'exec', execveat: 'exec', socket: 'socket', socketpair: 'socket' };
const SECCOMP_RULES: Record<string, string> = {
  clone: 'execution.spawn: false',
  fork: 'execution.spawn: false',
  vfork: 'execution.spawn: false',
  execve: 'execution.exec: false',
  execveat: 'execution.exec: false',
  socket: 'network: socket kind not allowed',
  socketpair: 'network: socket kind not allowed',
};

/**
 * What a Landlock denial was, from every right it names (the kernel reports
 * no syscall: agents run without an audit context). A link or rename into
 * another folder is `link` (its records name the folders, not the calls);
 * a rename within a folder asks to remove and to make an entry.
 */
function landlockOperation(blockers: readonly string[]): string {
  const fs = blockers.filter((b) => b.startsWith('fs.') && b !== 'fs.change_topology');
  if (fs.length === 0) return LANDLOCK_OPERATIONS[blockers[0]!] ?? blockers[0]!;
  if (fs.includes('fs.refer') || !FS_REQUESTS.some((asked) => fs.every(asked))) return 'link';
  const has = (right: string) => fs.includes(right);
  const makes = fs.filter((r) => r.startsWith('fs.make_'));
  if (has('fs.execute')) return 'exec';
  if (has('fs.write_file')) return 'write';
  if (has('fs.read_file')) return 'read';
  if (has('fs.truncate')) return 'truncate';
  if (has('fs.read_dir')) return 'list';
  if (has('fs.ioctl_dev')) return 'ioctl';
  if (makes.length > 0 && fs.some((r) => r.startsWith('fs.remove_'))) return 'rename';
  if (makes.length === 0) return 'remove';
  return makes.every((r) => r === 'fs.make_char' || r === 'fs.make_block') ? 'mknod' : 'create';
}

/**
 * `a.b.c.d:port/proto`, `[v6]:port/proto` (canonical; a v4-mapped address as
 * its IPv4 address, as the eBPF programs check it), `port N/proto` without one.
 */
function endpoint(address: string | undefined, port: string | number, protocol: string): string {
  if (address === undefined) return `port ${port}/${protocol}`;
  const ip = parseIp(address);
  const host = !ip ? address : ip.family === 6 ? `[${formatIp(ip)}]` : formatIp(ip);
  return `${host}:${port}/${protocol}`;
}

function egressRule(rule: RuleInfo): string {
  if (rule.source === 'loopback' || rule.source === 'resolver') return `network.${rule.source === 'loopback' ? 'loopback' : 'dns'}`;
  return `${rule.verdict === 'allow' ? 'allow_egress' : 'deny_egress'}: ${rule.source}`;
}

/**
 * The `key=value` fields of a kernel audit record. Values are bare words,
 * "quoted" strings, or (for strings with spaces or odd bytes) unquoted hex.
 */
export function auditFields(record: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const m of record.matchAll(/(?:^|\s)([a-z_]+)=("([^"]*)"|\S+)/g)) {
    const [, key, raw, quoted] = m;
    let value = quoted ?? raw!;
    if (quoted === undefined && HEX_STRING_FIELDS.has(key!) && /^(?:[0-9A-F]{2})+$/.test(value)) value = Buffer.from(value, 'hex').toString('utf8');
    if (!fields.has(key!)) fields.set(key!, value);
  }
  return fields;
}

const HEX_STRING_FIELDS = new Set(['path', 'name', 'comm', 'exe', 'ocomm']);

/** "audit(1795615810.445:1781): ..." → its time; now when the record has none. */
function recordTime(record: string): string {
  const m = /^audit\((\d+)\.(\d{3}):\d+\)/.exec(record);
  return (m ? new Date(Number(m[1]) * 1000 + Number(m[2])) : new Date()).toISOString();
}
