/**
 * Shared by the sandbox suites: a fixture tree whose files the agent's uid
 * could reach by permissions alone (so every denial seen is the sandbox's),
 * the escape probe compiled with gcc, policies built field by field, and a
 * runner that starts a program under the launcher and collects what it said.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchAgent, type AgentProcess, type LaunchFacts, type StartOptions } from '../../services/enforcer/launch.js';
import type { CompiledPolicy } from '../../services/enforcer/policy/index.js';

export const NOBODY = 65534;

/** What a dynamically linked program needs to start (as the base profile grants); /proc is the agent's own. */
export const SYSTEM_READ = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/etc/ld.so.cache', '/etc/passwd', '/etc/group', '/dev/null', '/dev/urandom', '/proc'];
export const SYSTEM_EXEC = ['/usr', '/bin', '/sbin', '/lib', '/lib64'];

export interface Fixture {
  root: string;
  /** Writable by the policy (and owned by the agent's uid). */
  workspace: string;
  /** Readable by the policy, not writable; owned by the agent's uid, mode 0755. */
  readonly: string;
  /** Not granted at all; owned by the agent's uid, world-readable. */
  secret: string;
  /** The compiled escape probe (readable and executable by anyone). */
  probe: string;
  cleanup(): void;
}

const PROBE_SOURCE = fileURLToPath(new URL('./sandbox-probe.c', import.meta.url));

export function makeFixture(base: string = tmpdir()): Fixture {
  const root = mkdtempSync(join(base, 'airlock-sandbox-'));
  chmodSync(root, 0o755);
  const dirs = { workspace: join(root, 'workspace'), readonly: join(root, 'readonly'), secret: join(root, 'secret'), bin: join(root, 'bin') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { mode: 0o755 });
  for (const dir of [dirs.workspace, dirs.readonly, dirs.secret]) chownSync(dir, NOBODY, NOBODY);
  for (const [dir, name] of [[dirs.readonly, 'file'], [dirs.secret, 'file']] as const) {
    writeFileSync(join(dir, name), 'content\n', { mode: 0o666 });
    chownSync(join(dir, name), NOBODY, NOBODY);
  }
  const probe = join(dirs.bin, 'sandbox-probe');
  execFileSync('gcc', ['-O2', '-Wall', '-o', probe, PROBE_SOURCE, '-lpthread'], { stdio: 'pipe' });
  chmodSync(probe, 0o755);
  return { root, workspace: dirs.workspace, readonly: dirs.readonly, secret: dirs.secret, probe, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface PolicyOverrides {
  onViolation?: CompiledPolicy['onViolation'];
  filesystem?: Partial<CompiledPolicy['filesystem']>;
  network?: Partial<CompiledPolicy['network']>;
  execution?: Partial<CompiledPolicy['execution']>;
}

/** A sandbox-like policy (no network, no spawn, no exec, workspace writable), deny mode unless overridden. */
export function policy(fx: Pick<Fixture, 'workspace'>, over: PolicyOverrides = {}): CompiledPolicy {
  return {
    name: 'sandbox-test',
    source: 'test',
    sourceSha256: '0'.repeat(64),
    onViolation: over.onViolation ?? 'deny',
    filesystem: { read: SYSTEM_READ, write: [fx.workspace], exec: SYSTEM_EXEC, ...over.filesystem },
    network: { allow: [], deny: [], loopback: false, ...over.network },
    execution: { spawn: false, exec: false, maxProcesses: 32, maxMemoryBytes: 512 << 20, timeoutSeconds: 60, ...over.execution },
    audit: { allows: false },
  };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  stdout: string;
  stderr: string;
  /** Probe results by op name (last one wins): "ok" or an errno name such as "EACCES". */
  results: Map<string, string>;
  /** Probe result lines in order, as "<op> <result>". */
  lines: string[];
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

export function parseProbe(stdout: string): { results: Map<string, string>; lines: string[] } {
  const results = new Map<string, string>();
  const lines: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (ok|errno=(\d+))$/.exec(line);
    if (!m) continue;
    const result = m[2] === 'ok' ? 'ok' : ERRNO_NAMES.get(Number(m[3])) ?? `errno=${m[3]}`;
    results.set(m[1] as string, result);
    lines.push(`${m[1]} ${result}`);
  }
  return { results, lines };
}

/** Collects output and waits for the end, killing the process if it outlives `timeoutMs`. */
export async function finish(agent: AgentProcess, timeoutMs = 20_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  agent.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  agent.child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const closed = new Promise<void>((res) => agent.child.once('close', () => res()));
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), timeoutMs);
  try {
    await agent.release();
    const { code, signal } = await agent.exited;
    await closed;
    return { code, signal, pid: agent.pid, stdout, stderr, ...parseProbe(stdout) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `command` under `pol` in the fixture's workspace and waits for it to end. */
export async function runSandboxed(pol: CompiledPolicy, fx: Pick<Fixture, 'workspace'>, command: string[], facts: Partial<LaunchFacts> = {}, opts: StartOptions = {}): Promise<RunResult> {
  const agent = await launchAgent(pol, { workspace: fx.workspace, command, ...facts }, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  return finish(agent);
}

/** A process outside any sandbox, running as the agent's uid (so only the sandbox stands in the way). */
export function outsider(cwd: string): ChildProcess {
  return spawn('/bin/sleep', ['300'], { cwd, uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
}
