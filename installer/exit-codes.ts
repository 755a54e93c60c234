/**
 * Process exit codes of `airlock`. Part of the public interface: documented
 * in the README, relied on by scripts. Never renumber.
 */
import {
  BundleEnvironmentError,
  BundleFormatError,
  BundleInputError,
  BundlePayloadError,
  BundleTrustError,
} from '../bundle/errors.js';

export const ExitCode = {
  OK: 0,
  /** An unexpected internal error (a bug: please report it). */
  INTERNAL: 1,
  /** Wrong flags or arguments. */
  USAGE: 2,
  /** A bundle was rejected: damaged, untrusted, expired, or not what its manifest says. */
  BUNDLE_REJECTED: 3,
  /** The host cannot take the operation: disk space, target in the way, I/O. */
  ENVIRONMENT: 4,
  /** Input on the build side is unusable: image recipe, keys. */
  INPUT: 5,
  /** The appliance is not in a state that allows this: not installed, already installed, no previous release. */
  LIFECYCLE_STATE: 20,
  /** Refused: the bundle's sequence is not above the installed high-water mark (anti-rollback). */
  DOWNGRADE: 21,
  /** A service did not become healthy; the previous release (or nothing) was restored. */
  HEALTH_FAILED: 22,
  /** The command must run as root. */
  NEEDS_ROOT: 23,
  /** Another lifecycle command is running on the same prefix. */
  LOCKED: 24,
  /** `airlock doctor` found at least one failing check. */
  CHECKS_FAILED: 25,
  /** `airlock run`: the policy was not found, is invalid, or names a host that did not resolve. */
  POLICY_REJECTED: 30,
  /** `airlock run`: this host lacks a layer the policy needs (Landlock, seccomp, eBPF, kernel audit, cgroups); the agent was not started. */
  LAYER_UNAVAILABLE: 31,
  /** `airlock run`: the agent could not be started (program not found, launcher refused, protected path, workspace); nothing of it ran. */
  LAUNCH_FAILED: 32,
  /** `airlock run`: the enforcer killed the agent at a policy violation (on_violation: kill). */
  POLICY_VIOLATION: 33,
  /** `airlock run`: the agent's time ran out (timeout_minutes); its whole process tree was killed. */
  TIMEOUT: 34,
  /** `airlock run`: the agent went over its memory budget (max_memory_mb) and the kernel's OOM killer ended it. */
  MEMORY_BUDGET: 35,
  /** `airlock run`: the enforcer could no longer supervise the agent (BPF broker or loader gone, audit log unwritable) or set it up; the agent was killed. */
  ENFORCER_FAILED: 36,
  /** `airlock run` got SIGINT (143 for SIGTERM); the agent's tree was killed and everything cleaned up. */
  INTERRUPTED: 130,
  TERMINATED: 143,
} as const;

/** Error codes of services/enforcer → exit codes (by prefix where a whole family shares one). */
const ENFORCER_EXIT_CODES: Array<[RegExp, number]> = [
  [/^POLICY_/, ExitCode.POLICY_REJECTED],
  [/^(ENFORCER_LAYER_UNAVAILABLE|CGROUP_UNSUPPORTED)$/, ExitCode.LAYER_UNAVAILABLE],
  [/^ENFORCER_(LAUNCH_FAILED|PROGRAM_NOT_FOUND|PROTECTED_PATH|LAUNCHER_NOT_FOUND|SPEC_INVALID|SECCOMP_PROGRAM_INVALID|WORKSPACE_INVALID)$/, ExitCode.LAUNCH_FAILED],
  [/^ENFORCER_NEEDS_ROOT$/, ExitCode.NEEDS_ROOT],
  [/^ENFORCER_INTERRUPTED$/, ExitCode.INTERRUPTED],
  [/^(ENFORCER_|BPF_|CGROUP_)/, ExitCode.ENFORCER_FAILED],
];

export function exitCodeFor(error: unknown): number {
  if (error instanceof BundleFormatError || error instanceof BundleTrustError || error instanceof BundlePayloadError) {
    return ExitCode.BUNDLE_REJECTED;
  }
  if (error instanceof BundleEnvironmentError) return ExitCode.ENVIRONMENT;
  if (error instanceof BundleInputError) return ExitCode.INPUT;
  const code = (error as { code?: unknown }).code;
  const enforcer = typeof code === 'string' ? ENFORCER_EXIT_CODES.find(([pattern]) => pattern.test(code)) : undefined;
  if (enforcer) return enforcer[1];
  const own = (error as { exitCode?: unknown }).exitCode;
  if (typeof own === 'number') return own;
  const oclif = (error as { oclif?: { exit?: unknown } }).oclif;
  if (typeof oclif?.exit === 'number') return oclif.exit;
  return ExitCode.INTERNAL;
}
