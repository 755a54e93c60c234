/**
 * Landlock's user-space ABI (include/uapi/linux/landlock.h, up to ABI 7).
 * Debian 12's kernel headers stop at ABI 2, so the launcher defines the same
 * values in C; keep both in step.
 */

export const ACCESS_FS = {
  EXECUTE: 1 << 0,
  WRITE_FILE: 1 << 1,
  READ_FILE: 1 << 2,
  READ_DIR: 1 << 3,
  REMOVE_DIR: 1 << 4,
  REMOVE_FILE: 1 << 5,
  MAKE_CHAR: 1 << 6,
  MAKE_DIR: 1 << 7,
  MAKE_REG: 1 << 8,
  MAKE_SOCK: 1 << 9,
  MAKE_FIFO: 1 << 10,
  MAKE_BLOCK: 1 << 11,
  MAKE_SYM: 1 << 12,
  /** ABI 2: link or rename across directories. */
  REFER: 1 << 13,
  /** ABI 3. */
  TRUNCATE: 1 << 14,
  /** ABI 5: ioctl on device files. */
  IOCTL_DEV: 1 << 15,
} as const;

/** Every filesystem right up to ABI 5: all of them are handled (denied unless granted). */
export const ALL_ACCESS_FS = (1 << 16) - 1;

/** ABI 4. */
export const ACCESS_NET = {
  BIND_TCP: 1 << 0,
  CONNECT_TCP: 1 << 1,
} as const;

/** ABI 6. */
export const SCOPE = {
  ABSTRACT_UNIX_SOCKET: 1 << 0,
  SIGNAL: 1 << 1,
} as const;

/** ABI 7: landlock_restrict_self() flags. */
export const RESTRICT_SELF = {
  LOG_SAME_EXEC_OFF: 1 << 0,
  /** Log denials after execve too: the agent is always a newly executed program. */
  LOG_NEW_EXEC_ON: 1 << 1,
  LOG_SUBDOMAINS_OFF: 1 << 2,
} as const;

/**
 * The ABI every agent needs: truncate (3) and device ioctl (5) rights, TCP
 * ports (4), signal and abstract-socket scoping (6), audit of denials (7).
 * There is no reduced mode: a host below it runs no agent.
 */
export const REQUIRED_ABI = 7;
