/**
 * The x86_64 kernel ABI the filter speaks: syscall numbers, the layout of
 * `struct seccomp_data`, action values and the argument constants the rules
 * inspect. Numbers from arch/x86/entry/syscalls/syscall_64.tbl (they never
 * change once released).
 */

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** Set in the syscall number of x32 calls, which share AUDIT_ARCH_X86_64. */
export const X32_SYSCALL_BIT = 0x40000000;

/** struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; } */
export const SECCOMP_DATA = {
  nr: 0,
  arch: 4,
  /** Low 32 bits of argument i (little-endian). */
  argLow: (i: number): number => 16 + 8 * i,
  /** High 32 bits of argument i. */
  argHigh: (i: number): number => 20 + 8 * i,
} as const;

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ERRNO = 0x00050000;
/** The call waits for the process holding the filter's listener (the launcher's init) to answer it. */
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

export const SECCOMP_FILTER_FLAG_TSYNC = 1 << 0;
export const SECCOMP_FILTER_FLAG_LOG = 1 << 1;
export const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;

export const EPERM = 1;
export const ENOSYS = 38;

export const SYSCALLS = {
  ioctl: 16,
  chmod: 90,
  fchmod: 91,
  chown: 92,
  fchown: 93,
  lchown: 94,
  socket: 41,
  socketpair: 53,
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  ptrace: 101,
  syslog: 103,
  utime: 132,
  uselib: 134,
  personality: 135,
  vhangup: 153,
  pivot_root: 155,
  chroot: 161,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  iopl: 172,
  ioperm: 173,
  init_module: 175,
  delete_module: 176,
  quotactl: 179,
  setxattr: 188,
  lsetxattr: 189,
  fsetxattr: 190,
  removexattr: 197,
  lremovexattr: 198,
  fremovexattr: 199,
  lookup_dcookie: 212,
  clock_settime: 227,
  utimes: 235,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  fchownat: 260,
  futimesat: 261,
  fchmodat: 268,
  unshare: 272,
  utimensat: 280,
  perf_event_open: 298,
  fanotify_init: 300,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  finit_module: 313,
  memfd_create: 319,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  pidfd_getfd: 438,
  mount_setattr: 442,
  quotactl_fd: 443,
  fchmodat2: 452,
  setxattrat: 463,
  removexattrat: 466,
  open_tree_attr: 467,
  file_setattr: 469,
} as const;

export type SyscallName = keyof typeof SYSCALLS;

/** Every CLONE_NEW* flag clone() can carry (CLONE_NEWTIME shares its bit with the exit signal there). */
export const CLONE_NEW_NAMESPACES =
  0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000; // CLONE_NEWNET
export const CLONE_NEWTIME = 0x00000080;
export const CLONE_THREAD = 0x00010000;

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
/** The socket type sits in the low bits; SOCK_NONBLOCK/SOCK_CLOEXEC above them. */
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_RAW = 3;
export const SOCK_PACKET = 10;

export const AT_EMPTY_PATH = 0x1000;

export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;

export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;

/** ioctl requests that change an inode's flags, project or generation (chattr): _IOW('f', 2 / 4, long), _IOW('X', 32, struct fsxattr), _IOW('v', 2, long). */
export const INODE_ATTRIBUTE_IOCTLS = {
  FS_IOC_SETFLAGS: 0x40086602,
  EXT4_IOC_SETVERSION: 0x40086604,
  FS_IOC_FSSETXATTR: 0x401c5820,
  FS_IOC_SETVERSION: 0x40087602,
} as const;

/** personality() values that change nothing that matters: PER_LINUX, PER_LINUX32, and the 0xffffffff query. */
export const HARMLESS_PERSONALITIES = [0x0, 0x8, 0xffffffff] as const;
