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
} from '../bundle/index.js';

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
} as const;

export function exitCodeFor(error: unknown): number {
  if (error instanceof BundleFormatError || error instanceof BundleTrustError || error instanceof BundlePayloadError) {
    return ExitCode.BUNDLE_REJECTED;
  }
  if (error instanceof BundleEnvironmentError) return ExitCode.ENVIRONMENT;
  if (error instanceof BundleInputError) return ExitCode.INPUT;
  const own = (error as { exitCode?: unknown }).exitCode;
  if (typeof own === 'number') return own;
  const oclif = (error as { oclif?: { exit?: unknown } }).oclif;
  if (typeof oclif?.exit === 'number') return oclif.exit;
  return ExitCode.INTERNAL;
}
