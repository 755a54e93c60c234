import { mkdir, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { constants } from 'node:os';
import { Args, Flags } from '@oclif/core';
import { runAgent, type RunResult } from '../../services/enforcer/index.js';
import { AirlockCommand } from '../base-command.js';
import { ExitCode } from '../exit-codes.js';
import { DEFAULT_PREFIX, Layout, PREFIX_ENV, resolvePrefix } from '../layout.js';

export type RunOutput = RunResult & {
  /** What `airlock run` exits with (the agent's status, or a code saying why the enforcer ended it). */
  status: number;
};

/**
 * `--prefix` as the lifecycle commands have it. `airlock run` and `airlock
 * agents` extend AirlockCommand rather than LifecycleCommand so that they do
 * not load the install, upgrade and supervisor pipelines (~25 ms of start-up).
 */
export const prefixFlag = Flags.string({ description: `install prefix (default ${DEFAULT_PREFIX}, or $${PREFIX_ENV})` });

export default class Run extends AirlockCommand {
  static override baseFlags = { prefix: prefixFlag };
  static override summary = 'Run a command as an agent under a policy, enforced by the kernel.';
  static override description = `Landlock, seccomp, eBPF and cgroups are all applied before the agent's first instruction, or it does not run (exit ${ExitCode.LAYER_UNAVAILABLE}).
The agent runs as uid 65534 without capabilities, in its own cgroups and mount namespace (a private /tmp), with the workspace as its working directory. Its stdin, stdout and stderr are the command's own (with --json its stdout goes to stderr, and stdout carries the result).
Every decision is appended to var/audit/enforcer.jsonl (\`airlock audit tail\`).
Exits with the agent's status (128 + signal number when a signal ended it), or: ${ExitCode.POLICY_VIOLATION} killed at a policy violation, ${ExitCode.TIMEOUT} timeout, ${ExitCode.MEMORY_BUDGET} memory budget, ${ExitCode.ENFORCER_FAILED} enforcer failure, ${ExitCode.POLICY_REJECTED} policy rejected, ${ExitCode.LAYER_UNAVAILABLE} layer unavailable, ${ExitCode.LAUNCH_FAILED} launch failed, ${ExitCode.INTERRUPTED}/${ExitCode.TERMINATED} interrupted.`;
  static override examples = [
    '<%= config.bin %> run --policy sandbox -- /usr/bin/python3 agent.py',
    '<%= config.bin %> run --policy development --workspace /srv/agents/builder -- /bin/sh -c "make test"',
    '<%= config.bin %> run --policy ./research.yaml --resolver 10.0.0.53 --json -- ./agent',
  ];
  static override strict = false;
  static override flags = {
    policy: Flags.string({ description: 'sandbox | development | production, a policy file (.yaml), or a name in etc/policies/', required: true }),
    workspace: Flags.directory({ description: "the agent's working directory and writable workspace (default: a fresh var/workspaces/<agent>, removed if left empty)" }),
    resolver: Flags.string({ description: 'the appliance DNS resolver, ADDRESS[:PORT]: host names in the policy resolve through it, and it is the only DNS server the agent may use' }),
    env: Flags.string({ description: "KEY=VALUE added to the agent's environment", multiple: true }),
  };
  static override args = {
    command: Args.string({ description: 'the command to run, after "--"', required: true }),
  };

  async run(): Promise<RunOutput> {
    const { flags, argv } = await this.parse(Run);
    const layout = new Layout(resolvePrefix(flags.prefix));
    await mkdir(layout.log, { recursive: true });
    const interrupted = new AbortController();
    let signal: NodeJS.Signals | undefined;
    const onSignal = (name: NodeJS.Signals) => {
      signal = name;
      interrupted.abort();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    try {
      const result = await runAgent({
        policy: flags.policy,
        command: argv as string[],
        ...(flags.workspace ? { workspace: flags.workspace } : {}),
        paths: {
          auditLog: layout.auditEvents,
          agentsDir: layout.agentRecords,
          workspacesDir: layout.workspaces,
          policyDir: layout.policies,
          protectedPaths: await protectedPaths(layout),
          brokerLog: layout.enforcerBrokerLog,
        },
        ...(flags.resolver ? { resolver: parseResolver(flags.resolver) } : {}),
        ...(flags.env ? { env: parseEnv(flags.env) } : {}),
        // Under --json, stdout carries the result alone.
        stdio: ['inherit', this.jsonEnabled() ? 2 : 'inherit', 'inherit'],
        signal: interrupted.signal,
        // On a terminal only: the agent's own output follows.
        onStart: (agent) => {
          if (process.stderr.isTTY) this.note(`airlock: agent ${agent.id} (policy ${agent.policy}, pid ${agent.pid}) in ${agent.workspace}`);
        },
      });
      const status = statusOf(result, signal);
      const summary = describe(result);
      if (summary) this.note(`airlock: ${summary}`);
      process.exitCode = status;
      return { ...result, status };
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }
  }
}

/** Everything the appliance owns; of var/ only the workspaces are left to agents. */
async function protectedPaths(layout: Layout): Promise<string[]> {
  const state = await readdir(layout.var).catch(() => [] as string[]);
  return [...layout.enforcerProtectedPaths, ...state.filter((name) => name !== basename(layout.workspaces)).map((name) => join(layout.var, name))];
}

function statusOf(result: RunResult, signal: NodeJS.Signals | undefined): number {
  switch (result.endedBy) {
    case 'violation':
      return ExitCode.POLICY_VIOLATION;
    case 'timeout':
      return ExitCode.TIMEOUT;
    case 'memory':
      return ExitCode.MEMORY_BUDGET;
    case 'enforcer':
      return ExitCode.ENFORCER_FAILED;
    case 'interrupted':
      return signal === 'SIGTERM' ? ExitCode.TERMINATED : ExitCode.INTERRUPTED;
    case 'exit':
      return result.exitCode ?? 128 + (result.signal ? constants.signals[result.signal] : 0);
  }
}

/** A line for the operator when the enforcer, not the agent, decided how it ended. */
function describe(r: RunResult): string | undefined {
  const who = `agent ${r.agent} (policy ${r.policy.name})`;
  switch (r.endedBy) {
    case 'exit':
      return undefined;
    case 'violation': {
      const v = r.violation;
      const latency = v?.kill?.latencyMs != null ? `, tree killed ${v.kill.latencyMs.toFixed(1)} ms after the denial` : '';
      return `${who} KILLED at a policy violation: ${v ? `${v.layer} denied ${v.operation} ${v.target} (${v.rule})${latency}` : 'see `airlock audit tail`'}`;
    }
    case 'timeout':
      return `${who} KILLED: its time ran out (${r.usage.durationMs} ms)`;
    case 'memory':
      return `${who} KILLED: over its memory budget (${r.usage.maxMemoryBytes / 2 ** 20} MiB, ${r.usage.oomKills} OOM kill(s))`;
    case 'enforcer':
      return `${who} KILLED: the enforcer lost a layer while it ran (see the BPF broker's log)`;
    case 'interrupted':
      return `${who} interrupted: its process tree was killed`;
  }
}

function parseResolver(text: string): { address: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text) ?? /^([0-9.]+)(?::(\d+))?$/.exec(text) ?? /^([0-9a-fA-F:]+)()$/.exec(text);
  if (!m) throw usage(`--resolver ${text}: give an IPv4 or IPv6 address, optionally with :PORT ([v6]:PORT)`);
  return { address: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

function parseEnv(entries: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw usage(`--env ${entry}: give KEY=VALUE`);
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

function usage(message: string): Error {
  return Object.assign(new Error(message), { code: 'USAGE', exitCode: ExitCode.USAGE, hint: 'See `airlock run --help`.' });
}
