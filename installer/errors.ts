/**
 * Typed errors of the appliance lifecycle (install, upgrade, rollback,
 * supervisor). Every failure carries a stable `code` (documented in the
 * README, printed by the CLI, asserted by tests), a hint that says what to do
 * next, and the process exit code scripts can rely on.
 */
import { ExitCode } from './exit-codes.js';

export const InstallErrorCodes = {
  /** The command changes the host and must run as root. */
  NEEDS_ROOT: 'INSTALL_NEEDS_ROOT',
  /** Another lifecycle command holds the prefix's lock. */
  LOCKED: 'INSTALL_LOCKED',
  /** Nothing is installed under the prefix. */
  NOT_INSTALLED: 'INSTALL_NOT_INSTALLED',
  /** `install` found a release already installed. */
  ALREADY_INSTALLED: 'INSTALL_ALREADY_INSTALLED',
  /** `rollback` found no previous release. */
  NO_PREVIOUS: 'INSTALL_NO_PREVIOUS',
  /** The bundle's version is already the current or previous release. */
  RELEASE_EXISTS: 'INSTALL_RELEASE_EXISTS',
  /** The bundle's sequence is not above the installed high-water mark. */
  DOWNGRADE: 'INSTALL_DOWNGRADE',
  /** A service did not become healthy; the previous state was restored. */
  HEALTH_FAILED: 'INSTALL_HEALTH_FAILED',
  /** The release's services.yaml is missing or invalid. */
  SERVICES_INVALID: 'INSTALL_SERVICES_INVALID',
  /** etc/airlock.yaml is invalid. */
  CONFIG_INVALID: 'INSTALL_CONFIG_INVALID',
  /** A record under the prefix (journal, release record, pid file) is unreadable. */
  STATE_CORRUPT: 'INSTALL_STATE_CORRUPT',
  /** The bundle file changed between its check and its extraction. */
  BUNDLE_CHANGED: 'INSTALL_BUNDLE_CHANGED',
  /** The supervisor did not come up. */
  START_FAILED: 'INSTALL_START_FAILED',
  /** Some appliance process survived `down`. */
  STOP_FAILED: 'INSTALL_STOP_FAILED',
  /** The disk filled up while writing lifecycle records. */
  DISK_FULL: 'INSTALL_DISK_FULL',
  /** Reading or writing under the prefix failed. */
  IO: 'INSTALL_IO',
} as const;

export type InstallErrorCode = (typeof InstallErrorCodes)[keyof typeof InstallErrorCodes];

const EXIT_CODES: Record<InstallErrorCode, number> = {
  INSTALL_NEEDS_ROOT: ExitCode.NEEDS_ROOT,
  INSTALL_LOCKED: ExitCode.LOCKED,
  INSTALL_NOT_INSTALLED: ExitCode.LIFECYCLE_STATE,
  INSTALL_ALREADY_INSTALLED: ExitCode.LIFECYCLE_STATE,
  INSTALL_NO_PREVIOUS: ExitCode.LIFECYCLE_STATE,
  INSTALL_RELEASE_EXISTS: ExitCode.LIFECYCLE_STATE,
  INSTALL_DOWNGRADE: ExitCode.DOWNGRADE,
  INSTALL_HEALTH_FAILED: ExitCode.HEALTH_FAILED,
  INSTALL_SERVICES_INVALID: ExitCode.BUNDLE_REJECTED,
  INSTALL_BUNDLE_CHANGED: ExitCode.BUNDLE_REJECTED,
  INSTALL_CONFIG_INVALID: ExitCode.ENVIRONMENT,
  INSTALL_STATE_CORRUPT: ExitCode.ENVIRONMENT,
  INSTALL_START_FAILED: ExitCode.ENVIRONMENT,
  INSTALL_STOP_FAILED: ExitCode.ENVIRONMENT,
  INSTALL_DISK_FULL: ExitCode.ENVIRONMENT,
  INSTALL_IO: ExitCode.ENVIRONMENT,
};

export interface InstallErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class InstallError extends Error {
  readonly code: InstallErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: InstallErrorCode, message: string, options: InstallErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** Read by the CLI's exit-code mapping. */
  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

/** Turns a raw file-system failure under the prefix into a typed error. */
export function ioError(error: unknown, what: string): Error {
  const system = error as NodeJS.ErrnoException | undefined;
  // Only Node's system errors (which carry a numeric errno); typed errors pass through unchanged.
  if (typeof system?.errno !== 'number' || typeof system.code !== 'string') return error as Error;
  const errno = system.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new InstallError(InstallErrorCodes.DISK_FULL, `the disk filled up while ${what}`, {
      cause: error,
      hint: 'Free disk space under the prefix, then run `airlock up` to finish or undo the interrupted step.',
    });
  }
  return new InstallError(InstallErrorCodes.IO, `I/O error while ${what}: ${(error as Error).message}`, { cause: error });
}
