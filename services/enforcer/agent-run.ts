/**
 * Running one agent under its policy, every layer on, from policy to cleanup:
 *
 *   compile the policy (workspace, protected paths)       ┐ meanwhile: connect to (or start) the host's
 *                                                         │ BPF broker, probe the launcher (cached), read
 *                                                         ┘ the cgroup layout, open the audit file, claim the agent
 *   check every layer (launcher, cgroups, eBPF, kernel audit); refuse if one is missing
 *   write the agent's record, create its cgroups with its budgets, build the launch spec;
 *     meanwhile sweep what crashed runs left
 *   start airlock-launch blocked (it joins the cgroups) ┐ → "ready <pid>" → track the pid
 *   register it with the BPF loader (egress programs)   ┘ → "go" → exec
 *   stdio passes straight through; every decision is audited; the timeout
 *   kills the tree; under on_violation: kill the loader ends it at the first
 *   denial of any layer
 *   its first process ends → what is left is killed → usage → cleanup
 *
 * Cleanup always runs (success, failure, `signal` aborted by SIGINT/SIGTERM):
 * tree killed, cgroups removed, agent unregistered, record and claim deleted,
 * audit file fsync'd. If this process itself dies, the broker kills the agents of
 * its closed connection and the next run's sweep removes the rest.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentRegistry, type AgentRecord } from './agent-registry.js';
import { AgentClaims, sweepStaleAgents } from './agent-sweep.js';
import type { AuditEvent, KillReport, Violation } from './audit-events.js';
import { AuditLog } from './audit-log.js';
import { BrokerClient, BROKER_SOCKET, type BrokerConnectOptions } from './bpf-broker/index.js';
import { budgetEvents } from './budget-events.js';
import { CgroupManager, detectCgroupLayout, killAfter, unifiedMount, type AgentCgroup, type CgroupLayout, type CgroupUsage } from './cgroups/index.js';
import { Cleanup } from './cleanup.js';
import { EnforcerError, RunError, RunErrorCodes } from './errors.js';
import { auditLayerProblems, cgroupLayerProblems, launchLayerProblems, probeLaunchLayers, refuseUnlessComplete, type MissingLayer } from './layers.js';
import { resolveProgram } from './launch-program.js';
import { firstViolation, reportEvents } from './launch-reports.js';
import { buildLaunchSpec, DEFAULT_AGENT_ID, DEFAULT_AGENT_PATH, defaultLauncherPath, startAgent, type AgentProcess, type HostLayers, type StdioEntry } from './launch.js';
import { loadPolicy, resolvePolicy, type CompiledPolicy } from './policy/index.js';
import { RunMonitor } from './run-monitor.js';
import { AGENT_UID_POOL } from './uid-pool.js';
import { AGENT_TMP, prepareWorkspace, releaseWorkspace } from './workspace.js';

/** Where the appliance keeps what the enforcer writes (from the install layout). */
export interface EnforcerPaths {
  /** The append-only audit event file. */
  auditLog: string;
  /** Records of running agents. */
  agentsDir: string;
  /** Default workspaces, one per agent. */
  workspacesDir: string;
  /** Named policies (`--policy NAME`), searched after the built-in profiles. */
  policyDir?: string;
  /** The appliance's own files: no policy may grant them (the audit log's folder and the broker's are added). */
  protectedPaths: string[];
  /** Log of a BPF broker this run starts. */
  brokerLog?: string;
}

export interface RunAgentOptions {
  /** A built-in profile, a policy file, or a name in paths.policyDir. */
  policy: string;
  command: string[];
  /** Default: a fresh directory under paths.workspacesDir (removed afterwards if left empty). */
  workspace?: string;
  paths: EnforcerPaths;
  /** The appliance's DNS resolver: host names in the policy resolve through it, and it is the only DNS server agents may use. */
  resolver?: { address: string; port: number };
  /** Added to the agent's environment (PATH, HOME, LANG, TMPDIR, AIRLOCK_AGENT by default). */
  env?: Record<string, string>;
  /** The agent's stdin, stdout, stderr (default: inherited). */
  stdio?: [StdioEntry, StdioEntry, StdioEntry];
  /** Aborting ends the agent (its whole tree) and cleans up: SIGINT/SIGTERM of `airlock run`. */
  signal?: AbortSignal;
  /** Agents' parent cgroup in each hierarchy (default "airlock"). */
  cgroupParent?: string;
  broker?: BrokerConnectOptions;
  launcher?: string;
  /** Called once the agent runs. */
  onStart?: (agent: { id: string; pid: number; policy: string; workspace: string }) => void;
}

export type EndedBy = 'exit' | 'violation' | 'timeout' | 'memory' | 'interrupted' | 'enforcer';

export interface RunUsage {
  /** From the agent's first instruction to its end. */
  durationMs: number;
  /** Highest process (and thread) count, where the kernel keeps it. */
  pidsPeak: number | null;
  maxProcesses: number;
  /** Forks refused at max_processes. */
  forkFailures: number;
  memoryPeakBytes: number | null;
  maxMemoryBytes: number;
  /** Processes the kernel's OOM killer ended at max_memory_mb. */
  oomKills: number;
}

export interface RunResult {
  agent: string;
  policy: { name: string; source: string; sha256: string; onViolation: 'kill' | 'deny' };
  pid: number;
  workspace: string;
  /** The first process's exit code (null when a signal ended it). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  endedBy: EndedBy;
  /** The violation that ended the agent (endedBy "violation"), with the loader's kill report. */
  violation: (Violation & { kill?: KillReport }) | null;
  usage: RunUsage;
  /** Audit events written for this agent. */
  events: number;
  /** eBPF records the ring buffer dropped while the agent ran (counted, not audited one by one). */
  eventsLost: number;
  /** From the start of runAgent() to the agent's first instruction (ms). */
  startMs: number;
  /** The BPF broker was already serving (its programs loaded) when the run began. */
  brokerWarm: boolean;
}

/** After the first process died by a signal: how long the layer that killed it may take to say so. */
const CAUSE_GRACE_MS = 300;

export async function runAgent(options: RunAgentOptions): Promise<RunResult> {
  const t0 = performance.now();
  if (process.geteuid?.() !== 0) {
    throw new RunError(RunErrorCodes.NEEDS_ROOT, 'running an agent needs root (cgroups, BPF programs, the launcher’s privilege drop)', {
      hint: 'Run `airlock run` as root; the agent itself runs as a uid of its own (from 2000000000) without capabilities.',
    });
  }
  const { paths } = options;
  const socketPath = options.broker?.socketPath ?? BROKER_SOCKET;
  const protectedPaths = [...new Set([...paths.protectedPaths, dirname(paths.auditLog), dirname(socketPath)])];
  const cleanup = new Cleanup();
  const id = agentId(options.policy);
  // Connecting may mean starting the broker (loading the programs): overlap it with the policy work.
  const brokerPromise = BrokerClient.connect({ ...(paths.brokerLog ? { logFile: paths.brokerLog } : {}), ...options.broker });
  cleanup.add(() => brokerPromise.then((b) => b.close(), () => undefined));
  // So are the layer probes, the audit file and the agent's claim (their errors count once the policy compiled).
  const hostPromise = (async () => {
    const launcher = options.launcher ?? defaultLauncherPath();
    return { launcher, host: await probeLaunchLayers(launcher) };
  })();
  const layoutPromise = detectCgroupLayout();
  const auditPromise = AuditLog.open(paths.auditLog);
  cleanup.add(() => auditPromise.then((a) => a.close(), () => undefined));
  // Claimed first and released last: no sweep, of this prefix or another, takes the agent of a live run.
  const claims = new AgentClaims();
  const claimPromise = claims.claim(id);
  cleanup.add(() => claimPromise.then((c) => c.release(), () => undefined));
  for (const early of [hostPromise, layoutPromise, auditPromise, claimPromise]) early.catch(() => undefined);
  const fastMoves = keepCgroupMovesFast();
  cleanup.add(fastMoves);
  let result: RunResult;
  try {
    const workspacePath = options.workspace ?? join(paths.workspacesDir, id);
    const prepared = await loadPolicy(options.policy, { ...(paths.policyDir ? { policyDir: paths.policyDir } : {}), workspace: workspacePath, tmp: AGENT_TMP, protectedPaths });
    const { policy } = await resolvePolicy(prepared, options.resolver ? { resolver: options.resolver } : {});
    const audit = await auditPromise;
    const note = ({ detail, ...fields }: Omit<AuditEvent, 'time' | 'agent' | 'policy'>) =>
      audit.append({ time: new Date().toISOString(), agent: id, ...fields, policy: policy.name, ...(detail ? { detail } : {}) });
    try {
      result = await supervise({ id, policy, options, audit, note, cleanup, brokerPromise, hostPromise, layoutPromise, claims, claimPromise, fastMoves, protectedPaths, workspacePath, t0 });
    } catch (error) {
      // A refusal or failure is a decision too.
      if (error instanceof EnforcerError && error.code !== RunErrorCodes.AUDIT_LOG_FAILED) {
        note({ pid: null, exe: null, operation: 'run', target: options.command.join(' '), verdict: 'deny', layer: 'enforcer', rule: error.code, detail: { message: error.message } });
      }
      throw error;
    }
  } catch (error) {
    await cleanup.run().catch(() => undefined); // the first error is the one to report
    throw error;
  }
  await cleanup.run();
  return result;
}

interface SuperviseContext {
  id: string;
  policy: CompiledPolicy;
  options: RunAgentOptions;
  audit: AuditLog;
  note: (fields: Omit<AuditEvent, 'time' | 'agent' | 'policy'>) => void;
  cleanup: Cleanup;
  brokerPromise: Promise<BrokerClient>;
  hostPromise: Promise<{ launcher: string; host: HostLayers }>;
  layoutPromise: Promise<CgroupLayout>;
  claims: AgentClaims;
  claimPromise: ReturnType<AgentClaims['claim']>;
  /** Ends keepCgroupMovesFast(). */
  fastMoves: () => void;
  protectedPaths: string[];
  workspacePath: string;
  t0: number;
}

async function supervise(ctx: SuperviseContext): Promise<RunResult> {
  const { id, policy, options, audit, note, cleanup, t0 } = ctx;
  checkAborted(options.signal);

  // Every layer, before anything of the agent exists.
  const [{ launcher, host }, layout] = await Promise.all([ctx.hostPromise, ctx.layoutPromise]);
  const problems = [...launchLayerProblems(host, policy), ...cgroupLayerProblems(layout)];
  const broker = await ctx.brokerPromise.catch((error: unknown) => {
    problems.push(ebpfMissing(error));
    return undefined;
  });
  if (broker) problems.push(...auditLayerProblems(broker.hello));
  refuseUnlessComplete(problems);
  checkAborted(options.signal);

  const cgroups = new CgroupManager(layout, { parent: options.cgroupParent ?? 'airlock' });
  const registry = new AgentRegistry(options.paths.agentsDir);
  const claim = await ctx.claimPromise;
  // What crashed runs left goes while this agent starts (before it runs anything).
  const swept = sweepStaleAgents(registry, cgroups, ctx.claims);
  swept.catch(() => undefined);
  const record: AgentRecord = {
    id,
    policy: { name: policy.name, source: policy.source, sha256: policy.sourceSha256, onViolation: policy.onViolation, ...(policy.extends ? { extends: policy.extends } : {}) },
    command: options.command,
    workspace: ctx.workspacePath,
    budgets: { maxProcesses: policy.execution.maxProcesses, maxMemoryBytes: policy.execution.maxMemoryBytes, timeoutSeconds: policy.execution.timeoutSeconds },
    run: claim.run,
    startedAt: new Date().toISOString(),
  };
  const recorded = registry.write(record);
  cleanup.add(() => recorded.then(() => registry.remove(id), () => undefined));
  const created = cgroups.create(id, policy.execution);
  cleanup.add(() => created.then((cg) => cg.destroy(), () => undefined));
  // The spec is built while the cgroups are made; their directories are filled in after.
  const workspace = await prepareWorkspace(options.workspace, { dir: options.paths.workspacesDir, id, uid: DEFAULT_AGENT_ID, gid: DEFAULT_AGENT_ID });
  cleanup.add(() => releaseWorkspace(workspace));
  const resolved = await resolveProgram(options.command, { workspace: workspace.path, searchPath: DEFAULT_AGENT_PATH });
  const spec = buildLaunchSpec(
    policy,
    { workspace: workspace.path, command: options.command, uidPool: AGENT_UID_POOL, protectedRoots: ctx.protectedPaths, privateTmp: AGENT_TMP, env: agentEnv(id, workspace.path, options.env) },
    resolved,
  );
  const [cg] = await Promise.all([created, recorded]);
  // The launcher joins the cgroups and waits for "go" while the egress programs are attached to them.
  const registered = broker!.addAgent(id, cg.bpfAttachPath!, policy);
  const unregister = cleanup.add(() => registered.then(() => broker!.removeAgent(id), () => undefined));
  // Unwinding kills the tree before the egress programs come off its cgroup.
  cleanup.add(() => cg.kill());
  const started = startAgent({ ...spec, cgroups: cg.allDirs }, { launcher, stdio: options.stdio ?? ['inherit', 'inherit', 'inherit'] });
  cleanup.add(() => started.then((a) => a.abort(), () => undefined)); // before "go" the launcher exits (ABORTED); after the exec there is nothing to close
  const [agent] = await Promise.all([started, registered, swept]);
  ctx.fastMoves();
  const monitor = new RunMonitor({ id, policy, pid: agent.pid, program: resolved.program, audit, broker: broker! });
  cleanup.add(() => monitor.stop());
  // The metadata check's refusals (its own audit trail: the launcher's init, not the BPF broker).
  // An audit file that cannot be written fails the monitor's next append too, which ends the agent.
  cleanup.add(agent.reports.on((r) => reportEvents(r).forEach((e) => tryNote(note, e))));
  await broker!.trackPid(id, agent.pid);
  const timeout = killAfter(cg, policy.execution.timeoutSeconds);
  cleanup.add(() => timeout.cancel());
  note({ pid: agent.pid, exe: resolved.program, operation: 'run', target: options.command.join(' '), verdict: 'allow', layer: 'enforcer', rule: `policy ${policy.name} (sha256 ${policy.sourceSha256.slice(0, 12)})` });
  checkAborted(options.signal);
  // Settled both ways before going on: an unwind must not remove the record while its rewrite is under way.
  for (const outcome of await Promise.allSettled([agent.release(), registry.write({ ...record, pid: agent.pid, uid: agent.uid })])) if (outcome.status === 'rejected') throw outcome.reason;
  const startMs = performance.now() - t0;
  options.onStart?.({ id, pid: agent.pid, policy: policy.name, workspace: workspace.path });

  const end = await waitForEnd(agent, cg, broker!, monitor, options.signal);
  const causeKnown = timeout.expired || agent.reports.violation !== undefined || (await cg.usage()).memory.oomKills > 0;
  if (end.by === 'exit' && end.signal !== null && !causeKnown) await monitor.settle(CAUSE_GRACE_MS);
  // The agent is its first process: whatever it leaves behind ends with it.
  await cg.kill();
  // The loader answers only once it has handled its pending events and every kernel audit
  // record logged before (an audit barrier), and they reach us before its reply: a violation
  // in a killing agent counts even when the agent exited before the kill landed.
  await unregister().catch(() => undefined);
  monitor.stop();
  const usage = await cg.usage();
  const violation = firstViolation(monitor.violation && { ...monitor.violation, ...(monitor.kill ? { kill: monitor.kill } : {}) }, agent.reports.violation);
  const endedBy: EndedBy =
    end.by !== 'exit' ? end.by : agent.reports.failure ? 'enforcer' : timeout.expired ? 'timeout' : violation ? 'violation' : end.signal === 'SIGKILL' && usage.memory.oomKills > 0 ? 'memory' : 'exit';
  for (const event of budgetEvents(policy, usage, timeout.expired, agent.pid)) note(event);
  const result: RunResult = {
    agent: id,
    policy: { name: policy.name, source: policy.source, sha256: policy.sourceSha256, onViolation: policy.onViolation },
    pid: agent.pid,
    workspace: workspace.path,
    exitCode: end.code,
    signal: end.signal,
    endedBy,
    violation: endedBy === 'violation' ? violation ?? null : null,
    usage: runUsage(usage, policy, performance.now() - t0 - startMs),
    events: 0,
    eventsLost: monitor.lost,
    startMs,
    brokerWarm: broker!.warm,
  };
  note({
    pid: agent.pid,
    exe: resolved.program,
    operation: 'end',
    target: end.code !== null ? `exit ${end.code}` : `signal ${end.signal}`,
    verdict: endedBy === 'exit' ? 'allow' : 'kill',
    layer: endedBy === 'timeout' || endedBy === 'memory' ? 'cgroup' : result.violation?.layer ?? 'enforcer',
    rule: endedBy === 'violation' ? 'on_violation: kill' : `ended by ${endedBy}`,
    detail: { usage: result.usage, ...(result.violation ? { violation: result.violation } : {}), ...(result.eventsLost ? { eventsLost: result.eventsLost } : {}), ...(agent.reports.failure ? { launcher: agent.reports.failure } : {}) },
  });
  result.events = audit.written;
  return result;
}

interface End {
  by: 'exit' | 'interrupted' | 'enforcer';
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The first process exits, or we must end it: interrupted, or no longer audited (broker or loader gone, audit file failing). */
async function waitForEnd(agent: AgentProcess, cg: AgentCgroup, broker: BrokerClient, monitor: RunMonitor, signal: AbortSignal | undefined): Promise<End> {
  const aborted = new Promise<'interrupted'>((resolve) => {
    if (signal?.aborted) resolve('interrupted');
    signal?.addEventListener('abort', () => resolve('interrupted'), { once: true });
  });
  const lost = Promise.race([broker.closed, monitor.failure]).then(() => 'enforcer' as const);
  const first = await Promise.race([agent.exited, aborted, lost]);
  if (typeof first !== 'string') return { by: 'exit', ...first };
  await cg.kill();
  return { by: first, ...(await agent.exited) };
}

function runUsage(usage: CgroupUsage, policy: CompiledPolicy, durationMs: number): RunUsage {
  return {
    durationMs: Math.round(durationMs),
    pidsPeak: usage.pids.peak ?? null,
    maxProcesses: policy.execution.maxProcesses,
    forkFailures: usage.pids.forkFailures,
    memoryPeakBytes: usage.memory.peakBytes ?? null,
    maxMemoryBytes: policy.execution.maxMemoryBytes,
    oomKills: usage.memory.oomKills,
  };
}

function agentEnv(id: string, workspace: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: DEFAULT_AGENT_PATH, HOME: workspace, LANG: 'C.UTF-8', TMPDIR: AGENT_TMP, AIRLOCK_AGENT: id, ...extra };
}

/** `<policy stem>-<6 hex>`: readable in `airlock agents` and cgroupfs, unique enough to never collide in practice. */
function agentId(policyRef: string): string {
  const stem = basename(policyRef, extname(policyRef)).replace(/[^A-Za-z0-9_.-]/g, '').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'agent';
  return `${stem}-${randomBytes(3).toString('hex')}`;
}

function tryNote(note: (fields: Omit<AuditEvent, 'time' | 'agent' | 'policy'>) => void, fields: Omit<AuditEvent, 'time' | 'agent' | 'policy'>): void {
  try {
    note(fields);
  } catch {
    // reported by the monitor, whose appends fail the same way
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RunError(RunErrorCodes.INTERRUPTED, 'interrupted before the agent started', { hint: 'Nothing of the agent was left behind.' });
}

/** The broker could not load the BPF programs (or they are not built): the eBPF layer is missing. */
function ebpfMissing(error: unknown): MissingLayer {
  const code = (error as RunError).details?.code;
  if (!(error instanceof RunError) || typeof code !== 'string' || !code.startsWith('BPF_LOADER')) throw error;
  return {
    layer: 'ebpf',
    reason: error.message,
    hint: code === 'BPF_LOADER_MISSING' ? 'Build the BPF layer: make -C bpf.' : 'Run `airlock doctor` to see which BPF program types this kernel loads.',
  };
}

/** How often keepCgroupMovesFast() moves this process (well within one RCU grace period), and for how long at most. */
const MOVE_KEEPALIVE_MS = 5;
const MOVE_KEEPALIVE_MAX_MS = 2000;

/**
 * Moving a process into a cgroup (the agent joining its own, in the
 * launcher) takes the kernel's cgroup_threadgroup_rwsem for writing, which
 * waits a whole RCU grace period (10–20 ms here) unless another move ended
 * less than about one grace period before. Moving this process into the
 * cgroup it is in (which changes nothing) every few ms from the start of the
 * run until the agent is in keeps that window open: its move then takes
 * ~0.1 ms. A speed-up only: where the move cannot be written it stops.
 * Returns the function that ends it.
 */
function keepCgroupMovesFast(): () => void {
  let procs: string;
  try {
    // Read synchronously (procfs, no disk): the first move must start before the policy work takes the thread.
    const unified = unifiedMount(readFileSync('/proc/self/mountinfo', 'utf8'));
    const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (unified === undefined || own === undefined) return () => undefined;
    procs = join(unified, own, 'cgroup.procs');
  } catch {
    return () => undefined;
  }
  let stopped = false;
  const until = Date.now() + MOVE_KEEPALIVE_MAX_MS;
  void (async () => {
    while (!stopped && Date.now() < until) {
      await writeFile(procs, String(process.pid)).catch(() => (stopped = true));
      await sleep(MOVE_KEEPALIVE_MS);
    }
  })();
  return () => {
    stopped = true;
  };
}
