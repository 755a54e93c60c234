/**
 * The metadata filter: the calls that change an inode's mode, owner, times,
 * extended attributes or flags — for which Landlock (ABI 7) has no rights —
 * wait (SECCOMP_RET_USER_NOTIF) until the launcher's init has looked at what
 * they aim at: inside the agent's write paths they go on, elsewhere they fail
 * with EPERM or, under `on_violation: kill`, the agent is killed before the
 * call returns; init reports each refusal to the enforcer
 * (services/enforcer/native/src/notify.c, launch-reports.ts).
 *
 * Installed last, with SECCOMP_FILTER_FLAG_NEW_LISTENER (the launcher hands
 * the listener to init) and without FLAG_LOG: init's report is the audit
 * event. The kernel takes the most severe verdict of all filters, and KILL and
 * ERRNO outrank USER_NOTIF, so a call the policy filter denies never reaches
 * init. Other architectures and x32 calls pass here: the policy filter kills
 * them. Pure.
 */
import { Assembler, BPF_JEQ, NEXT, type Instruction } from './bpf.js';
import { AUDIT_ARCH_X86_64, INODE_ATTRIBUTE_IOCTLS, SECCOMP_DATA, SECCOMP_RET_ALLOW, SECCOMP_RET_USER_NOTIF, SYSCALLS, type SyscallName } from './abi.js';

/** Every call init answers besides the inode-flag ioctls (native/src/calls.c decodes exactly these). */
export const METADATA_SYSCALLS: readonly SyscallName[] = [
  'chmod', 'fchmod', 'fchmodat', 'fchmodat2',
  'chown', 'fchown', 'lchown', 'fchownat',
  'utime', 'utimes', 'futimesat', 'utimensat',
  'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat',
  'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat',
  'file_setattr',
];

export function metadataProgram(): Instruction[] {
  const a = new Assembler()
    .loadAbsolute(SECCOMP_DATA.arch)
    .jump(BPF_JEQ, AUDIT_ARCH_X86_64, NEXT, 'allow')
    .loadAbsolute(SECCOMP_DATA.nr);
  for (const name of METADATA_SYSCALLS) a.jump(BPF_JEQ, SYSCALLS[name], 'notify');
  // ioctl's request is an unsigned int: the kernel ignores the upper half of the register, so does this.
  a.jump(BPF_JEQ, SYSCALLS.ioctl, NEXT, 'allow').loadAbsolute(SECCOMP_DATA.argLow(1));
  for (const request of Object.values(INODE_ATTRIBUTE_IOCTLS)) a.jump(BPF_JEQ, request, 'notify');
  a.label('allow').ret(SECCOMP_RET_ALLOW);
  a.label('notify').ret(SECCOMP_RET_USER_NOTIF);
  return a.assemble();
}
