/**
 * Helpers for the cgroup suites: start a command already inside an agent
 * cgroup (it waits on stdin until it has been moved, then execs), inspect
 * processes, and find cgroups a test left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentCgroup, CgroupManager } from '../../services/enforcer/cgroups/index.js';

export interface Started {
  child: ChildProcess;
  /** Everything the command wrote to stdout so far. */
  output(): string;
  /** Everything it wrote to stderr so far. */
  errors(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs argv inside the cgroup from its first instruction: moved in before exec. */
export async function startIn(cgroup: AgentCgroup, argv: string[]): Promise<Started> {
  const child = spawn('/bin/sh', ['-c', 'read _ && exec "$@"', 'gate', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  await cgroup.addProcess(child.pid!);
  child.stdin!.end('\n');
  return { child, output: () => out, errors: () => err, exited };
}

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Alive and not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The session id of a process (field 6 of /proc/pid/stat). */
export function sessionOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

/** Agent cgroups whose id starts with `prefix`, in any hierarchy of the manager. */
export function leftovers(manager: CgroupManager, prefix: string): string[] {
  const { unified, pids, memory, freezer } = manager.layout;
  const mounts = new Set([unified, pids?.mount, memory?.mount, freezer?.mount].filter((m): m is string => m !== undefined));
  const found: string[] = [];
  for (const mount of mounts) {
    let names: string[] = [];
    try {
      names = readdirSync(join(mount, manager.parent));
    } catch {
      continue;
    }
    for (const n of names) if (n.startsWith(prefix)) found.push(join(mount, manager.parent, n));
  }
  return found;
}
