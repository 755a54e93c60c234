/**
 * The seccomp layer: turns a compiled policy into the classic-BPF programs the
 * launcher installs just before it executes the agent. Pure.
 *
 * Two filters, installed in this order:
 *  1. `compat` (no logging): clone3 gets ENOSYS so that libc falls back to
 *     clone(), whose flags a filter can read (clone3 passes them in memory).
 *     It is not a violation, so it must not reach the audit log.
 *  2. `policy` (SECCOMP_FILTER_FLAG_LOG): wrong architecture or x32 → kill;
 *     then the rules below. Every other syscall is allowed: Landlock, the eBPF
 *     programs and cgroups cover the rest.
 *  3. `metadata` (SECCOMP_FILTER_FLAG_NEW_LISTENER): chmod, chown, utimes,
 *     xattr and inode-flag calls wait for the launcher's init, which judges
 *     their target against the write paths (./metadata.ts).
 * A denied call gets SECCOMP_RET_KILL_PROCESS under `on_violation: kill`,
 * SECCOMP_RET_ERRNO(EPERM) under `deny`; both reach the kernel audit log
 * (type 1326, AUDIT_SECCOMP): kills always, errno through FLAG_LOG.
 *
 * The launcher's own exec: when the policy forbids exec, execveat() is allowed
 * only with the path pointer EXEC_GATE_ADDRESS and AT_EMPTY_PATH. That address
 * lies in page zero, below vm.mmap_min_addr: the launcher (root, with
 * CAP_SYS_RAWIO) maps it before dropping privileges and executes through it
 * once; the new image has no such mapping and cannot create one, so any later
 * execveat with that pointer fails with EFAULT and any other is denied.
 */
import { LaunchError, LaunchErrorCodes } from '../errors.js';
import type { CompiledNetwork, CompiledPolicy } from '../policy/types.js';
import { Assembler, BPF_JEQ, BPF_JGE, BPF_JSET, NEXT, type Instruction } from './bpf.js';
import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_UNIX,
  AT_EMPTY_PATH,
  AUDIT_ARCH_X86_64,
  CLONE_NEW_NAMESPACES,
  CLONE_NEWTIME,
  CLONE_THREAD,
  ENOSYS,
  EPERM,
  HARMLESS_PERSONALITIES,
  MFD_EXEC,
  MFD_NOEXEC_SEAL,
  NETLINK_ROUTE,
  SECCOMP_DATA,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_NEW_LISTENER,
  SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SOCK_PACKET,
  SOCK_RAW,
  SOCK_TYPE_MASK,
  SYSCALLS,
  TIOCLINUX,
  TIOCSTI,
  X32_SYSCALL_BIT,
  type SyscallName,
} from './abi.js';
import { metadataProgram } from './metadata.js';

/** Where the launcher's single permitted exec finds its empty path (inside page zero). */
export const EXEC_GATE_ADDRESS = 0x10;

/** Denied whatever the policy says, each for the escape it opens. */
export const ESCAPE_SYSCALLS: Readonly<Partial<Record<SyscallName, string>>> = {
  ptrace: 'trace or inject into another process',
  process_vm_readv: "read another process's memory",
  process_vm_writev: "write another process's memory",
  pidfd_getfd: "steal another process's file descriptors",
  bpf: 'load kernel programs, read maps',
  perf_event_open: 'kernel profiling interface, side channels',
  mount: 'change the filesystem view',
  umount2: 'change the filesystem view',
  move_mount: 'new mount API',
  open_tree: 'new mount API',
  open_tree_attr: 'new mount API',
  fsopen: 'new mount API',
  fsconfig: 'new mount API',
  fsmount: 'new mount API',
  fspick: 'new mount API',
  mount_setattr: 'new mount API',
  pivot_root: 'change the root directory',
  chroot: 'change the root directory',
  setns: 'enter another namespace',
  io_uring_setup: 'io_uring runs operations that seccomp never sees',
  io_uring_enter: 'io_uring runs operations that seccomp never sees',
  io_uring_register: 'io_uring runs operations that seccomp never sees',
  open_by_handle_at: 'open files by handle, bypassing path checks',
  name_to_handle_at: 'file handles for open_by_handle_at',
  kexec_load: 'replace the kernel',
  kexec_file_load: 'replace the kernel',
  init_module: 'load kernel modules',
  finit_module: 'load kernel modules',
  delete_module: 'unload kernel modules',
  keyctl: 'kernel keyrings hold other principals’ secrets',
  add_key: 'kernel keyrings',
  request_key: 'kernel keyrings',
  userfaultfd: 'stall kernel code paths (exploitation primitive)',
  acct: 'process accounting',
  swapon: 'swap devices',
  swapoff: 'swap devices',
  reboot: 'reboot the host',
  settimeofday: 'set the clock',
  clock_settime: 'set the clock',
  quotactl: 'disk quotas',
  quotactl_fd: 'disk quotas',
  lookup_dcookie: 'kernel profiling internals',
  vhangup: 'hang up the terminal',
  iopl: 'raw I/O ports',
  ioperm: 'raw I/O ports',
  syslog: 'read the kernel log (audit records of other agents)',
  uselib: 'legacy library loader',
  sethostname: 'host identity',
  setdomainname: 'host identity',
  fanotify_init: 'watch the whole filesystem',
};

export interface SeccompFilter {
  name: 'compat' | 'policy' | 'metadata';
  /** SECCOMP_FILTER_FLAG_* to install it with. */
  flags: number;
  program: Instruction[];
}

export interface SeccompPlan {
  /** In installation order. */
  filters: SeccompFilter[];
  /** Present when the policy forbids exec: the path pointer of the launcher's one exec. */
  execGate?: number;
}

/** Does the policy allow any IP traffic at all? */
export function hasNetwork(network: CompiledNetwork): boolean {
  return network.allow.length > 0 || network.loopback || network.resolver !== undefined;
}

export function buildSeccompPlan(policy: CompiledPolicy): SeccompPlan {
  const plan: SeccompPlan = {
    filters: [
      { name: 'compat', flags: SECCOMP_FILTER_FLAG_TSYNC, program: compatProgram() },
      { name: 'policy', flags: SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG, program: policyProgram(policy) },
      // Last: the launcher hands its listener to init right after installing it, then executes.
      { name: 'metadata', flags: SECCOMP_FILTER_FLAG_NEW_LISTENER, program: metadataProgram() },
    ],
  };
  if (!policy.execution.exec) plan.execGate = EXEC_GATE_ADDRESS;
  return plan;
}

function compatProgram(): Instruction[] {
  return new Assembler()
    .loadAbsolute(SECCOMP_DATA.arch)
    .jump(BPF_JEQ, AUDIT_ARCH_X86_64, NEXT, 'allow')
    .loadAbsolute(SECCOMP_DATA.nr)
    .jump(BPF_JEQ, SYSCALLS.clone3, NEXT, 'allow')
    .ret(SECCOMP_RET_ERRNO | ENOSYS)
    .label('allow')
    .ret(SECCOMP_RET_ALLOW)
    .assemble();
}

/** A handler ends by jumping to one of these. */
const ALLOW = 'allow';
const DENY = 'deny';
const KILL = 'kill';

type Handler = (a: Assembler) => void;

function policyProgram(policy: CompiledPolicy): Instruction[] {
  const { spawn, exec } = policy.execution;
  const network = hasNetwork(policy.network);
  const handlers = new Map<number, Handler>();
  const on = (name: SyscallName, handler: Handler): void => {
    if (handlers.has(SYSCALLS[name])) throw new LaunchError(LaunchErrorCodes.SECCOMP_PROGRAM_INVALID, `two seccomp rules for ${name}`);
    handlers.set(SYSCALLS[name], handler);
  };
  const deny: Handler = (a) => a.goto(DENY);

  // Argument-dependent rules first: they are the ones the kernel cannot cache.
  on('clone', (a) => {
    a.loadAbsolute(SECCOMP_DATA.argLow(0)).jump(BPF_JSET, CLONE_NEW_NAMESPACES, DENY);
    if (spawn) a.goto(ALLOW);
    else a.jump(BPF_JSET, CLONE_THREAD, ALLOW, DENY);
  });
  on('unshare', (a) => a.loadAbsolute(SECCOMP_DATA.argLow(0)).jump(BPF_JSET, CLONE_NEW_NAMESPACES | CLONE_NEWTIME, DENY, ALLOW));
  on('socket', (a) => socketRule(a, network));
  on('socketpair', (a) => a.loadAbsolute(SECCOMP_DATA.argLow(0)).jump(BPF_JEQ, AF_UNIX, ALLOW, DENY));
  on('ioctl', (a) =>
    a.loadAbsolute(SECCOMP_DATA.argLow(1)).jump(BPF_JEQ, TIOCSTI, DENY).jump(BPF_JEQ, TIOCLINUX, DENY).goto(ALLOW),
  );
  on('personality', (a) => {
    a.loadAbsolute(SECCOMP_DATA.argLow(0));
    for (const value of HARMLESS_PERSONALITIES) a.jump(BPF_JEQ, value, ALLOW);
    a.goto(DENY);
  });
  // A memfd that may be executed is how code runs without touching the
  // filesystem (Landlock does not see memfds): only sealed non-executable ones.
  on('memfd_create', (a) =>
    a.loadAbsolute(SECCOMP_DATA.argLow(1)).jump(BPF_JSET, MFD_EXEC, DENY).jump(BPF_JSET, MFD_NOEXEC_SEAL, ALLOW, DENY),
  );
  if (!exec) {
    on('execve', deny);
    on('execveat', (a) =>
      a
        .loadAbsolute(SECCOMP_DATA.argLow(1))
        .jump(BPF_JEQ, EXEC_GATE_ADDRESS, NEXT, DENY)
        .loadAbsolute(SECCOMP_DATA.argHigh(1))
        .jump(BPF_JEQ, 0, NEXT, DENY)
        .loadAbsolute(SECCOMP_DATA.argLow(4))
        .jump(BPF_JEQ, AT_EMPTY_PATH, ALLOW, DENY),
    );
  }
  if (!spawn) {
    on('fork', deny);
    on('vfork', deny);
  }
  for (const name of Object.keys(ESCAPE_SYSCALLS) as SyscallName[]) on(name, deny);

  const a = new Assembler()
    .loadAbsolute(SECCOMP_DATA.arch)
    .jump(BPF_JEQ, AUDIT_ARCH_X86_64, NEXT, KILL)
    .loadAbsolute(SECCOMP_DATA.nr)
    .jump(BPF_JGE, X32_SYSCALL_BIT, KILL);
  for (const nr of handlers.keys()) a.jump(BPF_JEQ, nr, `sys_${nr}`);
  a.ret(SECCOMP_RET_ALLOW);
  // Classic BPF only jumps forward: handlers first, the shared verdicts last.
  for (const [nr, handler] of handlers) {
    a.label(`sys_${nr}`);
    handler(a);
  }
  a.label(ALLOW).ret(SECCOMP_RET_ALLOW);
  a.label(KILL).ret(SECCOMP_RET_KILL_PROCESS);
  a.label(DENY).ret(policy.onViolation === 'kill' ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ERRNO | EPERM);
  return a.assemble();
}

/**
 * socket(domain, type, protocol): AF_UNIX always; AF_INET/AF_INET6 only when
 * the policy has a network, and never raw or packet; AF_NETLINK only
 * NETLINK_ROUTE with a network (libc's getaddrinfo(AI_ADDRCONFIG) needs it);
 * every other family (packet, vsock, bluetooth, alg ...) is denied.
 */
function socketRule(a: Assembler, network: boolean): void {
  a.loadAbsolute(SECCOMP_DATA.argLow(0)).jump(BPF_JEQ, AF_UNIX, ALLOW);
  if (!network) {
    a.goto(DENY);
    return;
  }
  a.jump(BPF_JEQ, AF_INET, 'socket_inet')
    .jump(BPF_JEQ, AF_INET6, 'socket_inet')
    .jump(BPF_JEQ, AF_NETLINK, NEXT, DENY)
    .loadAbsolute(SECCOMP_DATA.argLow(2))
    .jump(BPF_JEQ, NETLINK_ROUTE, ALLOW, DENY)
    .label('socket_inet')
    .loadAbsolute(SECCOMP_DATA.argLow(1))
    .and(SOCK_TYPE_MASK)
    .jump(BPF_JEQ, SOCK_RAW, DENY)
    .jump(BPF_JEQ, SOCK_PACKET, DENY)
    .goto(ALLOW);
}
