/**
 * Starting an agent under the in-process layers: build the launch spec from a
 * compiled policy and the runtime's facts, start airlock-launch blocked, and
 * let it exec when the caller (after registering the pid with the BPF side)
 * says so.
 *
 * The agent runs in its own PID namespace (it sees only its own processes in
 * a /proc of its own) and mount namespace (cgroupfs masked): the launcher
 * forks it and stays behind, forwarding signals, and exits with the agent's
 * status (services/enforcer/native/README.md).
 *
 * Control channel (fd 4 of the launcher, a socket): the agent-to-be writes
 * "ready <pid> <uid> <gid>" (its host pid, its ids) once it sits in its
 * cgroups with the ruleset built, then waits; "go" lets it drop privileges,
 * restrict itself and exec. It writes "error <exit code> <stage> <reason>"
 * when it refuses; the channel closes without a word when exec succeeded (the
 * descriptor is close-on-exec).
 *
 * Report channel (fd 5, a socket): the metadata check's refusals, a line each
 * (launch-reports.ts), from the agent's init until it ends.
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Duplex, Stream, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LaunchError, LaunchErrorCodes } from './errors.js';
import { ACCESS_FS, planRuleset, type PathRule } from './landlock/index.js';
import { resolveProgram, type ResolvedProgram } from './launch-program.js';
import { LaunchReports, parseFailure, parseReport } from './launch-reports.js';
import { encodeLaunchSpec, type FixedIds, type LaunchSpec, type PooledIds } from './launch-spec.js';
import { DEFAULT_PROTECTED_PATHS, type CompiledPolicy } from './policy/index.js';
import { buildSeccompPlan } from './seccomp/index.js';
import { RESTING_OWNER, type UidPool } from './uid-pool.js';

/** nobody:nogroup: the agent's ids when neither fixed ids nor a pool are given. */
export const DEFAULT_AGENT_ID = 65534;

export const DEFAULT_AGENT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Masked in the agent's mount namespace (an empty read-only tmpfs, over the
 * real one only after the Landlock ruleset is built, so no rule can name
 * it). Runtimes probe cgroupfs for their limits (Node's libuv, Rust, the
 * JVM): they get ENOENT, not a Landlock denial that would end the agent.
 */
export const MASKED_PATHS: readonly string[] = ['/sys/fs/cgroup'];

/** The launcher's exit codes before exec (services/enforcer/native/src/common.h). */
export const LAUNCHER_EXIT = {
  USAGE: 110,
  SPEC: 111,
  UNAVAILABLE: 112,
  CGROUP: 113,
  NAMESPACE: 114,
  PROGRAM: 115,
  PROTECTED: 116,
  LANDLOCK: 117,
  ABORTED: 118,
  PRIVILEGES: 119,
  WORKSPACE: 120,
  FDS: 121,
  SECCOMP: 122,
  EXEC: 123,
  IDS: 124,
  NOTIFY: 125,
} as const;

export interface LaunchFacts {
  /** Absolute; the agent's working directory (it must be able to enter it as its uid). */
  workspace: string;
  /** What to run: argv, the first entry a path (absolute or relative to the workspace) or a name in PATH. */
  command: string[];
  /** Cgroup directories the agent joins before it runs (from the cgroup manager). */
  cgroups?: string[];
  uid?: number;
  gid?: number;
  /**
   * Instead of uid/gid: a free uid of this pool, the agent's own (`airlock
   * run`). The workspace is then its own for the run, and what it makes in
   * its other write paths goes back to the resting owner (nobody) after.
   */
  uidPool?: UidPool;
  /** Roots the agent may never reach, added to cgroupfs and bpffs (the prefix, audit log, policy repo ...). */
  protectedRoots?: string[];
  /** The agent's whole environment (default PATH, HOME=workspace, LANG). */
  env?: Record<string, string>;
  /** Give the agent its own empty tmpfs over this directory (in its mount namespace). */
  privateTmp?: string;
}

function invalid(message: string, details: Record<string, unknown>): LaunchError {
  return new LaunchError(LaunchErrorCodes.SPEC_INVALID, message, { hint: 'fix the value the runtime passed to the launcher', details });
}

/**
 * Never root: Landlock has no rights for chmod, chown or extended attributes,
 * so an agent running as uid 0 (even without capabilities) could change the
 * modes of every root-owned file on the host, and group 0 owns more still.
 */
function checkId(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 0xfffffffe) {
    throw invalid(`${what} ${value} cannot run an agent: it must be a non-root id`, { [what]: value });
  }
  return value;
}

function agentIds(policy: CompiledPolicy, facts: LaunchFacts): FixedIds | PooledIds {
  if (facts.uidPool === undefined) return { uid: checkId(facts.uid ?? DEFAULT_AGENT_ID, 'uid'), gid: checkId(facts.gid ?? DEFAULT_AGENT_ID, 'gid') };
  if (facts.uid !== undefined || facts.gid !== undefined) throw invalid('give fixed ids or a uid pool, not both', { uid: facts.uid, gid: facts.gid });
  const { first, count } = facts.uidPool;
  if (!Number.isInteger(first) || !Number.isInteger(count) || first < 1 || count < 1 || first + count - 1 > 0xfffffffe) {
    throw invalid(`the uid pool ${first}+${count} cannot run agents: it must lie within 1..4294967294`, { first, count });
  }
  const tmp = facts.privateTmp;
  const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
  return {
    pool: facts.uidPool,
    restingOwner: { ...RESTING_OWNER },
    own: [facts.workspace],
    disown: policy.filesystem.write.filter((path) => path !== facts.workspace && (tmp === undefined || !under(path, tmp))),
  };
}

function agentEnv(facts: LaunchFacts): Record<string, string> {
  return facts.env ?? { PATH: DEFAULT_AGENT_PATH, HOME: facts.workspace, LANG: 'C.UTF-8' };
}

/** Pure: the spec for a policy, the runtime's facts and the resolved program. */
export function buildLaunchSpec(policy: CompiledPolicy, facts: LaunchFacts, resolved: ResolvedProgram): LaunchSpec {
  for (const [what, path] of [['workspace', facts.workspace], ['privateTmp', facts.privateTmp]] as const) {
    if (path !== undefined && (!isAbsolute(path) || path.includes('\0'))) throw invalid(`${what} "${path}" is not an absolute path`, { [what]: path });
  }
  const env = Object.entries(agentEnv(facts)).map(([k, v]) => {
    if (k === '' || k.includes('=') || `${k}${v}`.includes('\0')) throw invalid(`environment entry "${k}" is not usable`, { key: k });
    return `${k}=${v}`;
  });
  // The program must be executable even when the policy forbids exec: the
  // seccomp exec gate makes that first exec the only one. A script must be readable.
  const extra: PathRule[] = [];
  if (!policy.execution.exec) extra.push({ path: resolved.program, access: ACCESS_FS.EXECUTE | ACCESS_FS.READ_FILE });
  if (resolved.script !== undefined) extra.push({ path: resolved.script, access: ACCESS_FS.READ_FILE });
  const spec: LaunchSpec = {
    ids: agentIds(policy, facts),
    cgroups: facts.cgroups ?? [],
    landlock: planRuleset({
      filesystem: policy.filesystem,
      network: policy.network,
      extra,
      protectedRoots: [...DEFAULT_PROTECTED_PATHS, ...(facts.protectedRoots ?? [])],
    }),
    seccomp: buildSeccompPlan(policy),
    writable: [...policy.filesystem.write],
    onViolation: policy.onViolation,
    masks: [...MASKED_PATHS],
    workspace: facts.workspace,
    program: resolved.program,
    argv: resolved.argv,
    env,
  };
  if (facts.privateTmp !== undefined) spec.privateTmp = facts.privateTmp;
  return spec;
}

/** The built launcher: AIRLOCK_LAUNCHER, else native/build beside this module (source tree or dist/). */
export function defaultLauncherPath(): string {
  const candidates = [
    process.env.AIRLOCK_LAUNCHER,
    fileURLToPath(new URL('./native/build/airlock-launch', import.meta.url)),
    fileURLToPath(new URL('../../../services/enforcer/native/build/airlock-launch', import.meta.url)),
  ].filter((p): p is string => p !== undefined && p !== '');
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next place
    }
  }
  throw new LaunchError(LaunchErrorCodes.LAUNCHER_NOT_FOUND, 'airlock-launch is not built', {
    hint: 'run `make -C services/enforcer/native` (or .ci/prepare), or set AIRLOCK_LAUNCHER',
    details: { looked: candidates },
  });
}

export type StdioEntry = IOType | 'inherit' | Stream | number;

export interface StartOptions {
  /** Path of airlock-launch (default: defaultLauncherPath()). */
  launcher?: string;
  /** The agent's stdin, stdout, stderr (default: pipes). */
  stdio?: [StdioEntry, StdioEntry, StdioEntry];
}

export interface AgentProcess {
  /** The launcher: it forks the agent into its namespaces and exits as the agent does (code or signal). */
  child: ChildProcess;
  /** The agent's first process, as the host numbers it (the one to track; it execs the program). */
  pid: number;
  /** The agent's ids (from the pool, or the fixed ones). */
  uid: number;
  gid: number;
  /** What the metadata check refused, as it comes (complete once `exited` resolves). */
  reports: LaunchReports;
  /** Lets it exec; resolves once it has, rejects with LaunchError if the launcher refused. */
  release(): Promise<void>;
  /** Ends it before it runs anything (the launcher exits with ABORTED). */
  abort(): void;
  /** Exit status of the launcher or, after exec, of the agent (when the agent's first process ends, the rest of its PID namespace is killed); every report is in by then. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launcherError(exitCode: number | null, stage: string, reason: string): LaunchError {
  const details = { exitCode, stage, reason };
  if (exitCode === LAUNCHER_EXIT.UNAVAILABLE) {
    return new LaunchError(LaunchErrorCodes.LAYER_UNAVAILABLE, `the host cannot enforce this policy: ${reason}`, {
      hint: 'run `airlock doctor`: the agent was not started, and never runs with a layer missing',
      details,
    });
  }
  if (exitCode === LAUNCHER_EXIT.PROTECTED) {
    return new LaunchError(LaunchErrorCodes.PROTECTED_PATH, reason, { hint: 'a granted path resolves to, into or above a protected root: grant narrower paths', details });
  }
  return new LaunchError(LaunchErrorCodes.LAUNCH_FAILED, `the launcher stopped at ${stage}: ${reason}`, {
    hint: 'nothing of the agent ran; see details.stage and the reason',
    details,
  });
}

/** Starts the launcher with `spec` and waits until it is ready (blocked before exec). */
export async function startAgent(spec: LaunchSpec, opts: StartOptions = {}): Promise<AgentProcess> {
  const launcher = opts.launcher ?? defaultLauncherPath();
  const child = spawn(launcher, ['--spec-fd', '3', '--ctl-fd', '4', '--report-fd', '5'], {
    stdio: [...(opts.stdio ?? ['pipe', 'pipe', 'pipe']), 'pipe', 'pipe', 'pipe'],
    env: {},
  });
  const reports = new LaunchReports();
  const reportsEnded = readReports((child.stdio as unknown as Duplex[])[5]!, reports);
  const exited = Promise.all([new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit({ code, signal }));
  }), reportsEnded]).then(([status]) => status);
  const ctl = child.stdio[4] as Duplex;
  let text = '';
  let released = false;
  let closedBeforeRelease = false;
  const closed = new Promise<void>((resolveClose) => {
    ctl.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    ctl.once('close', () => {
      closedBeforeRelease = !released;
      resolveClose();
    });
    ctl.on('error', () => undefined); // EPIPE/ECONNRESET when the launcher dies: its exit says why
  });
  const failure = async (): Promise<LaunchError> => {
    const { code, signal } = await exited;
    const line = text.split('\n').find((l) => l.startsWith('error '));
    const m = line ? /^error (\d+) (\S+) (.*)$/.exec(line) : null;
    if (m) return launcherError(Number(m[1]), m[2] as string, m[3] as string);
    return launcherError(code, 'unknown', signal ? `killed by ${signal}` : `exited with ${code} without a reason`);
  };

  const spawned = new Promise<void>((resolveSpawn, rejectSpawn) => {
    child.once('spawn', () => resolveSpawn());
    child.once('error', (err) =>
      rejectSpawn(new LaunchError(LaunchErrorCodes.LAUNCHER_NOT_FOUND, `cannot start ${launcher}: ${err.message}`, { cause: err, hint: 'build it with `make -C services/enforcer/native`' })),
    );
  });
  await spawned;
  (child.stdio[3] as Writable).on('error', () => undefined).end(encodeLaunchSpec(spec));

  const [pid, uid, gid] = await new Promise<[number, number, number]>((resolveReady, rejectReady) => {
    const check = (): void => {
      const m = /^ready (\d+) (\d+) (\d+)$/m.exec(text);
      if (m) {
        ctl.off('data', check);
        resolveReady([Number(m[1]), Number(m[2]), Number(m[3])]);
      }
    };
    ctl.on('data', check);
    closed.then(async () => {
      ctl.off('data', check);
      check();
      rejectReady(await failure());
    }, rejectReady);
  });

  return {
    child,
    pid,
    uid,
    gid,
    reports,
    exited,
    abort: () => ctl.destroy(),
    release: async () => {
      released = true;
      if (!ctl.destroyed) ctl.write('go\n');
      await closed;
      // Closed before "go" was sent, or with a reason: the launcher stopped; else exec closed it.
      if (closedBeforeRelease || /^error /m.test(text)) throw await failure();
    },
  };
}

/** Feeds the report lines of `stream` to `reports`; resolves when the last writer (the agent's init) is gone. */
function readReports(stream: Duplex, reports: LaunchReports): Promise<void> {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const report = parseReport(line);
      if (report) reports.add(report);
      reports.failure ??= parseFailure(line);
    }
  });
  stream.on('error', () => undefined); // the launcher's exit says why
  return new Promise((resolveEnd) => stream.once('close', () => resolveEnd()));
}

/** Resolves the program, builds the spec and starts the launcher: the usual way in. */
export async function launchAgent(policy: CompiledPolicy, facts: LaunchFacts, opts: StartOptions = {}): Promise<AgentProcess> {
  const resolved = await resolveProgram(facts.command, { workspace: facts.workspace, searchPath: agentEnv(facts).PATH ?? DEFAULT_AGENT_PATH });
  return startAgent(buildLaunchSpec(policy, facts, resolved), opts);
}

export interface HostLayers {
  landlock: { abi: number };
  seccomp: { available: boolean };
  mmapMinAddr: number;
}

/** What the host offers the in-process layers (for `airlock doctor`). */
export async function probeHost(launcher: string = defaultLauncherPath()): Promise<HostLayers> {
  const child = spawn(launcher, ['--probe'], { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await new Promise<number | null>((res, rej) => {
    child.once('error', (err) => rej(new LaunchError(LaunchErrorCodes.LAUNCHER_NOT_FOUND, `cannot start ${launcher}: ${err.message}`, { cause: err })));
    child.once('close', res);
  });
  if (code !== 0) throw launcherError(code, 'probe', `airlock-launch --probe exited with ${code}`);
  return JSON.parse(out) as HostLayers;
}
