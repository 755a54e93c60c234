/**
 * Typed errors of the enforcer. Every failure carries a stable `code` (part of
 * the public interface: documented, printed by the CLI, asserted by tests), a
 * hint saying what to do next, and machine-readable details.
 * Each layer adds its own subclass and codes below; the base stays shared.
 */

export interface EnforcerErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class EnforcerError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: EnforcerErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }
}

export const PolicyErrorCodes = {
  /** The policy is not valid YAML, breaks the schema, or a value is unusable (details.issues has file:line:col and key path of each). */
  INVALID: 'POLICY_INVALID',
  /** No built-in profile, file or named policy matches what was asked for. */
  NOT_FOUND: 'POLICY_NOT_FOUND',
  /** A host name in an egress rule did not resolve, or no resolver is configured. */
  UNRESOLVED: 'POLICY_UNRESOLVED',
} as const;

export type PolicyErrorCode = (typeof PolicyErrorCodes)[keyof typeof PolicyErrorCodes];

export class PolicyError extends EnforcerError {
  declare readonly code: PolicyErrorCode;
  constructor(code: PolicyErrorCode, message: string, options: EnforcerErrorOptions = {}) {
    super(code, message, options);
  }
}

export const CgroupErrorCodes = {
  /** The host lacks a cgroup feature the agent needs (no pids/memory controller, no freezer, unknown layout). */
  UNSUPPORTED: 'CGROUP_UNSUPPORTED',
  /** An agent id, parent path, budget or pid that cannot be used (empty, slash, dot-dot, not a positive integer ...). */
  INVALID_ARGUMENT: 'CGROUP_INVALID_ARGUMENT',
  /** An agent cgroup with this id already exists. */
  EXISTS: 'CGROUP_EXISTS',
  /** No agent cgroup with this id exists. */
  NOT_FOUND: 'CGROUP_NOT_FOUND',
  /** Reading or writing a cgroup file failed. */
  IO: 'CGROUP_IO',
  /** The cgroup still holds processes when it should be empty. */
  BUSY: 'CGROUP_BUSY',
  /** Killing the tree did not empty the cgroup in time. */
  KILL_TIMEOUT: 'CGROUP_KILL_TIMEOUT',
  /** Freezing or thawing did not complete in time. */
  FREEZE_TIMEOUT: 'CGROUP_FREEZE_TIMEOUT',
} as const;

export type CgroupErrorCode = (typeof CgroupErrorCodes)[keyof typeof CgroupErrorCodes];

export class CgroupError extends EnforcerError {
  declare readonly code: CgroupErrorCode;
  constructor(code: CgroupErrorCode, message: string, options: EnforcerErrorOptions = {}) {
    super(code, message, options);
  }
}

export const LaunchErrorCodes = {
  /** The host lacks a layer the policy needs (Landlock ABI too low or off, no seccomp, exec gate unusable): the agent does not run. */
  LAYER_UNAVAILABLE: 'ENFORCER_LAYER_UNAVAILABLE',
  /** A granted path is, contains or lies inside a protected root (cgroupfs, the appliance's own files). */
  PROTECTED_PATH: 'ENFORCER_PROTECTED_PATH',
  /** The launcher binary (airlock-launch) is missing or not executable. */
  LAUNCHER_NOT_FOUND: 'ENFORCER_LAUNCHER_NOT_FOUND',
  /** The program to run was not found, or is a script whose interpreter cannot be used. */
  PROGRAM_NOT_FOUND: 'ENFORCER_PROGRAM_NOT_FOUND',
  /** A launch fact cannot be used (relative path, NUL byte, bad uid, unknown option). */
  SPEC_INVALID: 'ENFORCER_SPEC_INVALID',
  /** The launcher stopped before exec (details.stage, details.exitCode, details.reason); nothing ran. */
  LAUNCH_FAILED: 'ENFORCER_LAUNCH_FAILED',
  /** The generated seccomp program is unusable (a generator bug). */
  SECCOMP_PROGRAM_INVALID: 'ENFORCER_SECCOMP_PROGRAM_INVALID',
} as const;

export type LaunchErrorCode = (typeof LaunchErrorCodes)[keyof typeof LaunchErrorCodes];

/** Landlock, seccomp and the launcher: the layers applied in the agent's own process before it runs. */
export class LaunchError extends EnforcerError {
  declare readonly code: LaunchErrorCode;
  constructor(code: LaunchErrorCode, message: string, options: EnforcerErrorOptions = {}) {
    super(code, message, options);
  }
}

export const BpfErrorCodes = {
  /** The loader binary (bpf/build/airlock-bpf) is not there: the BPF layer was not built. */
  LOADER_MISSING: 'BPF_LOADER_MISSING',
  /** The loader could not load its programs, or exited before it was ready (details.stderr). */
  LOADER_FAILED: 'BPF_LOADER_FAILED',
  /** The loader exited while running: agents are no longer audited, and their network is frozen as it was. */
  LOADER_EXITED: 'BPF_LOADER_EXITED',
  /** The loader did not answer a request in time. */
  TIMEOUT: 'BPF_TIMEOUT',
  /** The loader did not understand a request (a client bug: BAD_JSON, BAD_REQUEST, UNKNOWN_COMMAND, LINE_TOO_LONG). */
  PROTOCOL: 'BPF_PROTOCOL',
  /** An agent with this id, or on this cgroup, is registered already. */
  AGENT_EXISTS: 'BPF_AGENT_EXISTS',
  /** No agent with this id is registered. */
  AGENT_NOT_FOUND: 'BPF_AGENT_NOT_FOUND',
  /** The loader serves its maximum number of agents. */
  TOO_MANY_AGENTS: 'BPF_TOO_MANY_AGENTS',
  /** The egress tables of the policy do not fit the kernel maps (too many prefixes or rules on one prefix). */
  POLICY_TOO_LARGE: 'BPF_POLICY_TOO_LARGE',
  /** The agent's cgroup directory is missing or not on a cgroup v2 hierarchy. */
  CGROUP: 'BPF_CGROUP',
  /** The kernel refused to attach a program. */
  ATTACH: 'BPF_ATTACH',
  /** The process to track does not exist. */
  PID: 'BPF_PID',
  /** A kernel map operation failed. */
  KERNEL: 'BPF_KERNEL',
  /** A ring buffer record is shorter than its type requires or has an unknown op. */
  EVENT_MALFORMED: 'BPF_EVENT_MALFORMED',
  /** `airlock-bpf --probe` could not run or printed something unreadable. */
  PROBE_FAILED: 'BPF_PROBE_FAILED',
} as const;

export type BpfErrorCode = (typeof BpfErrorCodes)[keyof typeof BpfErrorCodes];

export class BpfError extends EnforcerError {
  declare readonly code: BpfErrorCode;
  constructor(code: BpfErrorCode, message: string, options: EnforcerErrorOptions = {}) {
    super(code, message, options);
  }
}

export const RunErrorCodes = {
  /** A layer the policy needs is missing on this host (details.layers: [{ layer, reason }]): the agent was not started. */
  LAYER_UNAVAILABLE: 'ENFORCER_LAYER_UNAVAILABLE',
  /** Running agents needs root (cgroups, BPF, the launcher's privilege drop). */
  NEEDS_ROOT: 'ENFORCER_NEEDS_ROOT',
  /** The workspace is missing, not a directory, or hidden from the agent (inside /tmp, which each agent gets privately). */
  WORKSPACE_INVALID: 'ENFORCER_WORKSPACE_INVALID',
  /** The audit event file cannot be opened or written: no agent runs without its audit trail. */
  AUDIT_LOG_FAILED: 'ENFORCER_AUDIT_LOG_FAILED',
  /** The BPF broker (the one process per host that owns the BPF loader) could not be started or reached. */
  BROKER_FAILED: 'ENFORCER_BROKER_FAILED',
  /** `airlock run` was interrupted (SIGINT, SIGTERM) before the agent started; everything made for it was removed. */
  INTERRUPTED: 'ENFORCER_INTERRUPTED',
} as const;

export type RunErrorCode = (typeof RunErrorCodes)[keyof typeof RunErrorCodes];

/** Running an agent: the checks and set-up around the layers (agent-run.ts and its helpers). */
export class RunError extends EnforcerError {
  declare readonly code: RunErrorCode;
  constructor(code: RunErrorCode, message: string, options: EnforcerErrorOptions = {}) {
    super(code, message, options);
  }
}
