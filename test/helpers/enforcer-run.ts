/**
 * Fixtures for the `airlock run` suites (root, real kernel, the built CLI):
 * a prefix and workspaces the agent's uid can reach (outside /tmp, which each
 * agent sees as its own tmpfs), the probe agent, the audit file read back
 * independently, and host inspection for leftovers (cgroups, broker and
 * loader processes, loaded BPF programs) that trusts nothing airlock says.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAirlock, type AirlockRun } from './run-airlock.js';

export const NOBODY = 65534;
export const PYTHON = '/usr/bin/python3';
const PROBE = fileURLToPath(new URL('./agent-probe.py', import.meta.url));
/** Outside /tmp: agents get a private /tmp, so a workspace there would be hidden from them. */
const BASE = '/var/tmp';

export interface ProbeOp {
  op: 'read' | 'write' | 'list' | 'spawn' | 'tcp' | 'udp' | 'raw' | 'sleep' | 'alloc';
  [key: string]: unknown;
}

export interface ProbeLine {
  op: string;
  result: unknown;
}

export interface AgentRun extends AirlockRun {
  /** What the probe printed (its stdout reaches our stderr under --json). */
  probe: ProbeLine[];
  done: boolean;
}

export class RunFixture {
  readonly root: string;
  readonly prefix: string;
  #n = 0;

  constructor(tag: string) {
    this.root = mkdtempSync(join(BASE, `airlock-${tag}-`));
    chmodSync(this.root, 0o755);
    this.prefix = join(this.root, 'prefix');
  }

  get env(): NodeJS.ProcessEnv {
    return { AIRLOCK_PREFIX: this.prefix, HOME: this.root };
  }

  get auditFile(): string {
    return join(this.prefix, 'var', 'audit', 'enforcer.jsonl');
  }

  /** A workspace owned by the agent's uid, holding the probe and `in.txt`. */
  workspace(): string {
    const dir = join(this.root, `ws-${this.#n++}`);
    execFileSync('mkdir', ['-m', '0755', dir]);
    copyFileSync(PROBE, join(dir, 'probe.py'));
    writeFileSync(join(dir, 'in.txt'), 'input of the agent\n');
    for (const f of ['', 'probe.py', 'in.txt']) chownSync(join(dir, f), NOBODY, NOBODY);
    return dir;
  }

  /** A policy file beside the workspaces (outside the prefix). */
  policy(name: string, yaml: string): string {
    const file = join(this.root, `${name}.yaml`);
    writeFileSync(file, yaml);
    return file;
  }

  airlock(args: string[], env: NodeJS.ProcessEnv = {}): Promise<AirlockRun> {
    return runAirlock(args, { env: { ...this.env, ...env } });
  }

  /** `airlock run --json` of the probe agent with these operations. */
  async probe(policy: string, workspace: string, ops: ProbeOp[], extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<AgentRun> {
    const run = await this.airlock(['run', '--json', '--policy', policy, '--workspace', workspace, ...extra, '--', PYTHON, 'probe.py', JSON.stringify(ops)], env);
    const lines = run.stderr.split('\n').flatMap((l) => {
      try {
        const v = JSON.parse(l) as ProbeLine & { done?: boolean };
        return typeof v === 'object' && v !== null ? [v] : [];
      } catch {
        return [];
      }
    });
    return { ...run, probe: lines.filter((l) => 'op' in l), done: lines.some((l) => l.done === true) };
  }

  /** Every event of the audit file (read independently of airlock), of one agent if given. */
  events(agent?: string): any[] {
    if (!existsSync(this.auditFile)) return [];
    const all = readFileSync(this.auditFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return agent === undefined ? all : all.filter((e) => e.agent === agent);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Results of the probe by operation, in order. */
export function results(run: AgentRun): unknown[] {
  return run.probe.map((l) => l.result);
}

// ------------------------------------------------------------------ the host

/** Agent cgroups left in any hierarchy (under the default parent "airlock"). */
export function agentCgroups(): string[] {
  const left: string[] = [];
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    for (const dir of [join('/sys/fs/cgroup', hierarchy, 'airlock'), join('/sys/fs/cgroup', 'airlock')]) {
      if (!existsSync(dir)) continue;
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) left.push(join(dir, entry.name));
    }
  }
  return [...new Set(left)];
}

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
}

export function processes(): Proc[] {
  const procs: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      procs.push({ pid: Number(name), ppid: Number(fields[1]), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/** The BPF broker processes and the loaders they own. */
export function brokerProcesses(): Proc[] {
  const all = processes();
  const brokers = all.filter((p) => p.cmdline.includes('bpf-broker/main.js'));
  return [...brokers, ...all.filter((p) => brokers.some((b) => b.pid === p.ppid))];
}

/** Every BPF loader running on the host (a probe aside). */
export function runningLoaders(): Proc[] {
  return processes().filter((p) => p.cmdline.includes('airlock-bpf') && !p.cmdline.includes('--probe'));
}

/** Loaders that are not a broker's (another suite's, or a developer's). */
export function foreignLoaders(): Proc[] {
  const ours = new Set(brokerProcesses().map((p) => p.pid));
  return runningLoaders().filter((p) => !ours.has(p.pid));
}

/** Names of loaded BPF programs that are ours (al_*). */
export function airlockPrograms(): string[] {
  const out = execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ name?: string }>).map((p) => p.name ?? '').filter((n) => n.startsWith('al_'));
}

export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
