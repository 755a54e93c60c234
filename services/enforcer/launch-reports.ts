/**
 * The metadata check's reports: the launcher's init refuses a chmod, chown,
 * utimes, xattr or inode-flag call of the agent aimed outside its write paths
 * (services/enforcer/native/src/notify.c) and says so, one line each, on the
 * launcher's report descriptor:
 *
 *   violation <syscall> <operation> <host pid> <deny|kill> <ns to decide> <exe> <target>
 *
 * (exe and target percent-encoded, exe "-" when unknown). Under kill, init
 * has killed the agent's namespace before the call returned. Each report is
 * a seccomp-layer audit event (the check is a seccomp filter's listener), and
 * a kill also the kill event and report every other layer gives. Should init
 * fail, it writes "error <code> <stage> <reason>" and the agent dies with it:
 * the enforcer, not the agent, ended the run.
 */
import type { AuditEvent, KillReport, Violation } from './audit-events.js';

export interface MetadataReport {
  syscall: string;
  /** chmod, chown, utimes, setxattr, removexattr, setattr (inode flags), metadata (a call the check does not know). */
  operation: string;
  pid: number | null;
  verdict: 'deny' | 'kill';
  /** From the call reaching init to its verdict. */
  decisionNs: number;
  exe: string | null;
  /** The path the call aimed at, as the kernel names it. */
  target: string;
  /** When the enforcer read it (ISO 8601). */
  time: string;
}

export const METADATA_RULE = 'filesystem.write: metadata outside the write paths';

function decode(text: string): string {
  return Buffer.from(text.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))), 'latin1').toString('utf8');
}

/** A report line, or undefined for anything else. */
export function parseReport(line: string, time: Date = new Date()): MetadataReport | undefined {
  const m = /^violation (\S+) (\S+) (\d+) (deny|kill) (\d+) (\S+) (\S+)$/.exec(line);
  if (!m) return undefined;
  const [, syscall, operation, pid, verdict, ns, exe, target] = m as unknown as [string, string, string, string, 'deny' | 'kill', string, string, string];
  return { syscall, operation, pid: Number(pid) || null, verdict, decisionNs: Number(ns), exe: exe === '-' ? null : decode(exe), target: decode(target), time: time.toISOString() };
}

type EventFields = Omit<AuditEvent, 'agent' | 'policy'>;

/** The audit events of a report: the refusal, and under kill the kill itself. */
export function reportEvents(r: MetadataReport): EventFields[] {
  const decisionMs = r.decisionNs / 1e6;
  const denial: EventFields = { time: r.time, pid: r.pid, exe: r.exe, operation: r.operation, target: r.target, verdict: r.verdict, layer: 'seccomp', rule: METADATA_RULE, detail: { syscall: r.syscall, check: 'seccomp user notification', decisionMs } };
  if (r.verdict === 'deny') return [denial];
  const kill: EventFields = { time: r.time, pid: r.pid, exe: r.exe, operation: 'kill', target: 'agent process tree', verdict: 'kill', layer: 'seccomp', rule: 'on_violation: kill', detail: { reason: 'metadata', inKernel: true, latencyMs: decisionMs } };
  return [denial, kill];
}

/** Init could not go on checking the agent's calls (and the agent was killed). */
export interface CheckFailure {
  exitCode: number;
  stage: string;
  reason: string;
}

export function parseFailure(line: string): CheckFailure | undefined {
  const m = /^error (\d+) (\S+) (.*)$/.exec(line);
  return m ? { exitCode: Number(m[1]), stage: m[2]!, reason: m[3]! } : undefined;
}

/** Collects the reports of one agent as they come; the first under kill is its violation. */
export class LaunchReports {
  readonly all: MetadataReport[] = [];
  failure: CheckFailure | undefined;
  readonly #listeners = new Set<(r: MetadataReport) => void>();

  get violation(): (Violation & { kill: KillReport }) | undefined {
    const r = this.all.find((x) => x.verdict === 'kill');
    if (!r) return undefined;
    const kill: KillReport = { layer: 'seccomp', pid: r.pid ?? 0, inKernel: true, latencyMs: r.decisionNs / 1e6 };
    return { layer: 'seccomp', operation: r.operation, target: r.target, rule: METADATA_RULE, pid: r.pid, exe: r.exe, time: r.time, kill };
  }

  /** Calls `listener` for each report, those already in first; returns the unsubscribe. */
  on(listener: (r: MetadataReport) => void): () => void {
    for (const r of this.all) listener(r);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  add(r: MetadataReport): void {
    this.all.push(r);
    for (const listener of this.#listeners) listener(r);
  }
}

/** The earlier of two violations (either may be missing). */
export function firstViolation<V extends Violation>(a: V | undefined, b: V | undefined): V | undefined {
  if (!a || !b) return a ?? b;
  return Date.parse(b.time) < Date.parse(a.time) ? b : a;
}
