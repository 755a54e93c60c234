import { describe, expect, it } from 'vitest';
import type { CompiledPolicy } from '../../services/enforcer/policy/index.js';
import { buildSeccompPlan, ESCAPE_SYSCALLS, EXEC_GATE_ADDRESS, METADATA_SYSCALLS, SYSCALLS, type SyscallName } from '../../services/enforcer/seccomp/index.js';
import { runFilter } from './seccomp-interpreter.js';

const X86_64 = 0xc000003e;
const I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const KILL = 0x80000000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const NOTIFY = 0x7fc00000;

function policy(over: { onViolation?: 'kill' | 'deny'; spawn?: boolean; exec?: boolean; network?: boolean } = {}): CompiledPolicy {
  return {
    name: 't',
    source: 't',
    sourceSha256: '',
    onViolation: over.onViolation ?? 'deny',
    filesystem: { read: [], write: [], exec: [] },
    network: {
      allow: over.network ? [{ address: '10.0.0.0', prefix: 8, family: 4, ports: [[443, 443]], protocol: 'tcp', source: '10.0.0.0/8:443' }] : [],
      deny: [],
      loopback: false,
    },
    execution: { spawn: over.spawn ?? false, exec: over.exec ?? false, maxProcesses: 1, maxMemoryBytes: 1, timeoutSeconds: 1 },
    audit: { allows: false },
  };
}

function verdict(pol: CompiledPolicy, name: SyscallName | number, args: Array<number | bigint> = [], arch = X86_64): number {
  const { filters } = buildSeccompPlan(pol);
  const nr = typeof name === 'number' ? name : SYSCALLS[name];
  const data = { nr, arch, args: args.map((a) => BigInt(a)) };
  // The kernel returns the most severe action of all filters (KILL, ERRNO, USER_NOTIF, ALLOW); ours never tie on different actions.
  const results = filters.map((f) => runFilter(f.program, data));
  const rank = (v: number) => [KILL, EPERM & 0xffff0000, NOTIFY, ALLOW].indexOf((v & 0xffff0000) >>> 0);
  return results.reduce((worst, v) => (rank(v) < rank(worst) ? v : worst));
}

const CLONE_THREAD_FLAGS = 0x3d0f00; // what glibc's pthread_create passes
const FORK_FLAGS = 0x01200011; // glibc fork(): CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
const CLONE_NEWUSER = 0x10000000;

describe('seccomp filter generator', () => {
  it('installs compat first without logging, then policy with FLAG_LOG and TSYNC, then metadata with a listener (no logging)', () => {
    const plan = buildSeccompPlan(policy());
    expect(plan.filters.map((f) => [f.name, f.flags])).toEqual([
      ['compat', 1],
      ['policy', 3],
      ['metadata', 8],
    ]);
    expect(plan.execGate).toBe(EXEC_GATE_ADDRESS);
    expect(buildSeccompPlan(policy({ exec: true })).execGate).toBeUndefined();
  });

  it.each(['deny', 'kill'] as const)('kills any other architecture and x32 calls, whatever the mode (%s)', (mode) => {
    expect(verdict(policy({ onViolation: mode }), 20, [], I386)).toBe(KILL);
    expect(verdict(policy({ onViolation: mode }), 39 | 0x40000000)).toBe(KILL);
    expect(verdict(policy({ onViolation: mode }), 0xffffffff)).toBe(KILL);
  });

  it('allows what it has no rule for', () => {
    for (const nr of [0, 1, 3, 39, 257, 334, 444, 445, 446]) expect(verdict(policy(), nr)).toBe(ALLOW);
  });

  it.each(Object.keys(ESCAPE_SYSCALLS) as SyscallName[])('denies %s always: EPERM in deny mode, kill in kill mode', (name) => {
    expect(verdict(policy({ spawn: true, exec: true, network: true }), name)).toBe(EPERM);
    expect(verdict(policy({ onViolation: 'kill', spawn: true, exec: true, network: true }), name)).toBe(KILL);
  });

  it('gives clone3 ENOSYS (so libc falls back to clone) without it being a violation', () => {
    expect(verdict(policy(), 'clone3')).toBe(ENOSYS);
    expect(verdict(policy({ onViolation: 'kill', spawn: true }), 'clone3')).toBe(ENOSYS);
    const [compat, pol] = buildSeccompPlan(policy()).filters;
    expect(runFilter(pol!.program, { nr: SYSCALLS.clone3, arch: X86_64 })).toBe(ALLOW);
    expect(runFilter(compat!.program, { nr: SYSCALLS.clone3, arch: I386 })).toBe(ALLOW);
  });

  it('lets threads be created but not processes when spawn is off', () => {
    const noSpawn = policy();
    expect(verdict(noSpawn, 'clone', [CLONE_THREAD_FLAGS])).toBe(ALLOW);
    expect(verdict(noSpawn, 'clone', [FORK_FLAGS])).toBe(EPERM);
    expect(verdict(noSpawn, 'clone', [0x4111])).toBe(EPERM); // CLONE_VM | CLONE_VFORK | SIGCHLD: posix_spawn
    expect(verdict(noSpawn, 'fork')).toBe(EPERM);
    expect(verdict(noSpawn, 'vfork')).toBe(EPERM);
    const spawn = policy({ spawn: true });
    expect(verdict(spawn, 'clone', [FORK_FLAGS])).toBe(ALLOW);
    expect(verdict(spawn, 'fork')).toBe(ALLOW);
  });

  it('reads clone flags from the low 32 bits only, as clone() does', () => {
    expect(verdict(policy(), 'clone', [BigInt(CLONE_THREAD_FLAGS) | (0xffffffffn << 32n)])).toBe(ALLOW);
    expect(verdict(policy(), 'clone', [BigInt(FORK_FLAGS) | (BigInt(CLONE_THREAD_FLAGS) << 32n)])).toBe(EPERM);
  });

  it('denies namespaces through clone and unshare even when spawn is on', () => {
    const spawn = policy({ spawn: true });
    for (const ns of [0x00020000, 0x02000000, 0x04000000, 0x08000000, CLONE_NEWUSER, 0x20000000, 0x40000000]) {
      expect(verdict(spawn, 'clone', [FORK_FLAGS | ns])).toBe(EPERM);
      expect(verdict(spawn, 'unshare', [ns])).toBe(EPERM);
    }
    expect(verdict(spawn, 'unshare', [0x80])).toBe(EPERM); // CLONE_NEWTIME
    expect(verdict(spawn, 'unshare', [0x400])).toBe(ALLOW); // CLONE_FILES
    expect(verdict(spawn, 'setns', [3, 0])).toBe(EPERM);
  });

  it('denies exec except through the gate when exec is off', () => {
    const noExec = policy();
    expect(verdict(noExec, 'execve')).toBe(EPERM);
    expect(verdict(noExec, 'execveat', [3, EXEC_GATE_ADDRESS, 0, 0, 0x1000])).toBe(ALLOW);
    expect(verdict(noExec, 'execveat', [3, EXEC_GATE_ADDRESS | 0x1000, 0, 0, 0x1000])).toBe(EPERM);
    expect(verdict(noExec, 'execveat', [3, BigInt(EXEC_GATE_ADDRESS) | (1n << 32n), 0, 0, 0x1000])).toBe(EPERM);
    expect(verdict(noExec, 'execveat', [3, EXEC_GATE_ADDRESS, 0, 0, 0])).toBe(EPERM);
    expect(verdict(noExec, 'execveat', [3, EXEC_GATE_ADDRESS, 0, 0, 0x1100])).toBe(EPERM);
    const exec = policy({ exec: true });
    expect(verdict(exec, 'execve')).toBe(ALLOW);
    expect(verdict(exec, 'execveat', [3, 0x7fff0000, 0, 0, 0])).toBe(ALLOW);
  });

  it('allows only sealed, non-executable memfds', () => {
    const p = policy({ exec: true });
    expect(verdict(p, 'memfd_create', [0, 0x1])).toBe(EPERM); // MFD_CLOEXEC
    expect(verdict(p, 'memfd_create', [0, 0x1 | 0x8])).toBe(ALLOW); // + MFD_NOEXEC_SEAL
    expect(verdict(p, 'memfd_create', [0, 0x8 | 0x10])).toBe(EPERM); // + MFD_EXEC
  });

  describe('sockets', () => {
    const AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, AF_NETLINK = 16, AF_PACKET = 17, AF_VSOCK = 40;
    const STREAM = 1, DGRAM = 2, RAW = 3, PACKET = 10, NONBLOCK = 0x800;

    it('allows only AF_UNIX without a network', () => {
      const p = policy();
      expect(verdict(p, 'socket', [AF_UNIX, STREAM, 0])).toBe(ALLOW);
      for (const family of [AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK]) expect(verdict(p, 'socket', [family, STREAM, 0])).toBe(EPERM);
    });

    it('allows TCP/UDP and route netlink with a network, never raw, packet or other families', () => {
      const p = policy({ network: true });
      expect(verdict(p, 'socket', [AF_INET, STREAM | NONBLOCK, 0])).toBe(ALLOW);
      expect(verdict(p, 'socket', [AF_INET6, DGRAM, 0])).toBe(ALLOW);
      expect(verdict(p, 'socket', [AF_INET, RAW, 1])).toBe(EPERM);
      expect(verdict(p, 'socket', [AF_INET6, RAW | NONBLOCK, 58])).toBe(EPERM);
      expect(verdict(p, 'socket', [AF_INET, PACKET, 0])).toBe(EPERM);
      expect(verdict(p, 'socket', [AF_NETLINK, RAW, 0])).toBe(ALLOW); // NETLINK_ROUTE: getaddrinfo(AI_ADDRCONFIG)
      for (const proto of [4, 9, 15, 16]) expect(verdict(p, 'socket', [AF_NETLINK, RAW, proto])).toBe(EPERM); // sock_diag, audit, uevent, generic
      expect(verdict(p, 'socket', [AF_PACKET, RAW, 0])).toBe(EPERM);
      expect(verdict(p, 'socket', [AF_VSOCK, STREAM, 0])).toBe(EPERM);
    });

    it('allows socketpair for AF_UNIX only', () => {
      expect(verdict(policy(), 'socketpair', [AF_UNIX, STREAM, 0])).toBe(ALLOW);
      expect(verdict(policy({ network: true }), 'socketpair', [AF_NETLINK, RAW, 0])).toBe(EPERM);
    });
  });

  it('denies terminal injection ioctls and leaves the others alone', () => {
    expect(verdict(policy(), 'ioctl', [0, 0x5412])).toBe(EPERM); // TIOCSTI
    expect(verdict(policy(), 'ioctl', [0, 0x541c])).toBe(EPERM); // TIOCLINUX
    expect(verdict(policy(), 'ioctl', [0, 0x5401])).toBe(ALLOW); // TCGETS
  });

  describe('metadata', () => {
    it.each(METADATA_SYSCALLS)('sends %s to the launcher’s init, in either mode', (name) => {
      expect(verdict(policy(), name)).toBe(NOTIFY);
      expect(verdict(policy({ onViolation: 'kill' }), name)).toBe(NOTIFY);
    });

    it('sends the inode-flag ioctls (chattr) there, by the request’s low 32 bits, and no other ioctl', () => {
      for (const request of [0x40086602, 0x40086604, 0x401c5820, 0x40087602]) {
        expect(verdict(policy(), 'ioctl', [3, request])).toBe(NOTIFY);
        expect(verdict(policy(), 'ioctl', [3, 0xffffffff00000000n | BigInt(request)])).toBe(NOTIFY);
      }
      for (const request of [0x5401, 0x80086601 /* FS_IOC_GETFLAGS */, 0x541b /* FIONREAD */]) expect(verdict(policy(), 'ioctl', [3, request])).toBe(ALLOW);
    });

    it('lets the policy filter’s verdicts win: a terminal injection is denied, not sent; other architectures and x32 are killed', () => {
      expect(verdict(policy(), 'ioctl', [0, 0x5412])).toBe(EPERM);
      const metadata = buildSeccompPlan(policy()).filters.find((f) => f.name === 'metadata')!;
      expect(runFilter(metadata.program, { nr: 15 /* i386 chmod */, arch: I386 })).toBe(ALLOW);
      expect(verdict(policy(), 15, [], I386)).toBe(KILL);
      expect(verdict(policy(), SYSCALLS.chmod | 0x40000000)).toBe(KILL);
    });

    it('leaves reads of metadata alone (stat, getxattr, listxattr, access)', () => {
      for (const nr of [4, 5, 6, 191, 192, 193, 194, 21, 262, 332]) expect(verdict(policy(), nr)).toBe(ALLOW);
    });
  });

  it('allows personality queries and PER_LINUX, not flags such as ADDR_NO_RANDOMIZE', () => {
    expect(verdict(policy(), 'personality', [0xffffffff])).toBe(ALLOW);
    expect(verdict(policy(), 'personality', [0])).toBe(ALLOW);
    expect(verdict(policy(), 'personality', [0x0040000])).toBe(EPERM);
    expect(verdict(policy(), 'personality', [0x0400000])).toBe(EPERM); // READ_IMPLIES_EXEC
  });

  it('stays far below the kernel limit', () => {
    for (const f of buildSeccompPlan(policy({ network: true })).filters) expect(f.program.length).toBeLessThan(200);
  });
});
