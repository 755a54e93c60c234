/**
 * The escape suite for the in-process layers (Landlock, seccomp, no
 * capabilities, no_new_privs, its own PID namespace and /proc, cgroupfs
 * masked), on the real kernel, as root. Every fixture file
 * is owned by the agent's uid and open to it by permissions, and a control run
 * of the same operations outside the sandbox (same uid) shows they succeed
 * there: each denial below is the sandbox's.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixture, NOBODY, outsider, parseProbe, policy, runSandboxed, SYSTEM_EXEC, SYSTEM_READ, type RunResult } from './sandbox-helpers.js';

const run = promisify(execFile);
const fx = makeFixture();
const secret = join(fx.secret, 'file');
const ro = fx.readonly;
const ws = fx.workspace;
const outside = outsider(fx.secret);
// Cgroups delegated to the agent's uid: by permissions alone it could move itself from `home` to `away`.
const delegated = `/sys/fs/cgroup/pids/airlock-sandbox-escape-${process.pid}`;
const home = join(delegated, 'home');
const away = join(delegated, 'away');

beforeAll(() => {
  symlinkSync(secret, join(ws, 'link-before'));
  for (const dir of [delegated, home, away]) mkdirSync(dir);
  for (const dir of [home, away]) chownSync(join(dir, 'cgroup.procs'), NOBODY, NOBODY);
});
afterAll(() => {
  outside.kill('SIGKILL');
  for (const dir of [home, away, delegated]) if (existsSync(dir)) rmdirSync(dir);
  fx.cleanup();
});

/** Grants: system paths and /proc to read, the readonly folder to read, the workspace to write. */
const fsPolicy = (over: Parameters<typeof policy>[1] = {}) =>
  policy(fx, { ...over, filesystem: { read: [...SYSTEM_READ, '/proc', ro], write: [ws], exec: SYSTEM_EXEC } });

/** Runs the probe as the agent's uid with no sandbox at all. */
async function control(ops: string[]): Promise<string[]> {
  const { stdout } = await run(fx.probe, ops, { uid: NOBODY, gid: NOBODY, cwd: ws });
  return parseProbe(stdout).lines;
}

const opName = (op: string) => op.split(':')[0] as string;

/** [case, probe op, result inside the sandbox, result outside it (control)] */
const FILESYSTEM: Array<[string, string, string, string]> = [
  ['read a denied file directly', `read:${secret}`, 'EACCES', 'ok'],
  ['read it through a symlink made before the run', `read:${ws}/link-before`, 'EACCES', 'ok'],
  ['read it through /proc/self/root', `read:/proc/self/root${secret}`, 'EACCES', 'ok'],
  ['read it through /proc/<pid>/cwd of a process outside (not in its PID namespace)', `read:/proc/${outside.pid}/cwd/file`, 'ENOENT', 'ok'],
  ['read it through ..', `read:${ws}/../secret/file`, 'EACCES', 'ok'],
  ['list a denied directory', `read:${fx.secret}`, 'EACCES', 'EISDIR'],
  ['create a file outside write paths', `write:${ro}/new`, 'EACCES', 'ok'],
  ['write a readable file', `write:${ro}/file`, 'EACCES', 'ok'],
  ['truncate a readable file', `truncate:${ro}/file`, 'EACCES', 'ok'],
  ['rename inside a read-only folder', `rename:${ro}/file,${ro}/renamed`, 'EACCES', 'ok'],
  ['rename out of a read-only folder into the workspace', `rename:${ro}/file,${ws}/stolen`, 'EACCES', 'ok'],
  ['unlink outside write paths', `unlink:${ro}/file`, 'EACCES', 'ok'],
  ['make a directory outside write paths', `mkdir:${ro}/dir`, 'EACCES', 'ok'],
  ['make a fifo outside write paths', `mkfifo:${ro}/fifo`, 'EACCES', 'ok'],
  ['make a device node in the workspace (never granted)', `mknod-char:${ws}/null`, 'EACCES', 'EPERM'],
  // cgroupfs is masked (an empty read-only tmpfs): every name in it is ENOENT, nothing can be created
  ['leave its cgroup by writing cgroup.procs of another (delegated)', `cgroup-procs:${away}`, 'ENOENT', 'ok'],
  ['leave it through /proc/self/root', `cgroup-procs:/proc/self/root${away}`, 'ENOENT', 'ok'],
  ['leave it through its init’s root (/proc/1/root)', `cgroup-procs:/proc/1/root${away}`, 'ENOENT', 'EACCES'],
  ['move to the root cgroup v2 (cgroup.procs of the hierarchy)', 'cgroup-procs:/sys/fs/cgroup/unified', 'ENOENT', 'EACCES'],
  ['read cgroupfs (a protected root)', 'read:/sys/fs/cgroup/pids/cgroup.procs', 'ENOENT', 'ok'],
  ['create a file in cgroupfs', 'write:/sys/fs/cgroup/new', 'EROFS', 'EACCES'],
  ['make a directory in cgroupfs', 'mkdir:/sys/fs/cgroup/new', 'EROFS', 'EACCES'],
  ['list the masked cgroupfs (never granted)', 'read:/sys/fs/cgroup', 'EACCES', 'EISDIR'],
];

describe('filesystem: Landlock, by hierarchy', () => {
  let inside: RunResult;
  beforeAll(async () => {
    inside = await runSandboxed(fsPolicy(), fx, [fx.probe, ...FILESYSTEM.map(([, op]) => op)], { cgroups: [home] });
    expect(inside.code).toBe(0);
  });

  it.each(FILESYSTEM)('%s: denied', (_name, op, expected) => {
    const index = FILESYSTEM.findIndex(([, o]) => o === op);
    expect(inside.lines[index]).toBe(`${opName(op)} ${expected}`);
  });

  it.each(FILESYSTEM)('%s: works outside the sandbox (control)', async (_name, op, _inside, expected) => {
    writeFileSync(join(ro, 'file'), 'content\n');
    chownSync(join(ro, 'file'), NOBODY, NOBODY);
    expect(await control([op])).toEqual([`${opName(op)} ${expected}`]);
  });

  it('does not let a symlink made during the run reach the file', async () => {
    const r = await runSandboxed(fsPolicy(), fx, [fx.probe, `symlink:${secret},${ws}/link-during`, `read:${ws}/link-during`]);
    expect(r.lines).toEqual(['symlink ok', 'read EACCES']);
  });

  it('does not let a hard link made during the run reach the file (EXDEV: it would gain rights)', async () => {
    const r = await runSandboxed(fsPolicy(), fx, [fx.probe, `link:${secret},${ws}/hard`, `read:${ws}/hard`]);
    expect(r.lines).toEqual(['link EXDEV', 'read ENOENT']);
  });

  it('does let the agent work in its workspace and read what it may', async () => {
    const r = await runSandboxed(fsPolicy(), fx, [
      fx.probe,
      `write:${ws}/a`,
      `rename:${ws}/a,${ws}/b`,
      `mkdir:${ws}/d`,
      `rename:${ws}/b,${ws}/d/c`,
      `symlink:${ws}/d/c,${ws}/l`,
      `read:${ws}/l`,
      `link:${ws}/d/c,${ws}/h`,
      `truncate:${ws}/h`,
      `mkfifo:${ws}/fifo`,
      `unlink:${ws}/h`,
      `read:${ro}/file`,
      'read:/etc/passwd',
    ]);
    expect(r.lines).toEqual(['write ok', 'rename ok', 'mkdir ok', 'rename ok', 'symlink ok', 'read ok', 'link ok', 'truncate ok', 'mkfifo ok', 'unlink ok', 'read ok', 'read ok']);
  });

  it('leaves chmod to permissions: Landlock has no right for it, so a file the agent does not own stays put', async () => {
    const rootOwned = join(ro, 'root-owned');
    writeFileSync(rootOwned, 'x', { mode: 0o644 });
    const r = await runSandboxed(fsPolicy(), fx, [fx.probe, `chmod:${rootOwned}`]);
    expect(r.lines).toEqual(['chmod EPERM']);
  });
});

/** [case, probe op, result in deny mode] */
const PROCESS: Array<[string, string, string]> = [
  ['fork', 'fork', 'EPERM'],
  ['fork through the raw syscall', 'sys-fork', 'EPERM'],
  ['clone with a new user namespace', 'clone-newuser', 'EPERM'],
  ['exec', 'exec:/bin/true', 'EPERM'],
  ['ptrace a process outside', `ptrace:${outside.pid}`, 'EPERM'],
  ['signal a process outside (not in its PID namespace)', `kill:${outside.pid}`, 'ESRCH'],
  ['signal its init (pid 1 of its namespace: root)', 'kill:1', 'EPERM'],
  ['process_vm_readv a process outside', `vm-readv:${outside.pid}`, 'EPERM'],
  ['bpf()', 'bpf', 'EPERM'],
  ['perf_event_open', 'perf', 'EPERM'],
  ['mount', `mount:${ws}`, 'EPERM'],
  ['unshare a user namespace', 'unshare-user', 'EPERM'],
  ['unshare a mount namespace', 'unshare-mnt', 'EPERM'],
  ['setns', 'setns', 'EPERM'],
  ['chroot', `chroot:${ws}`, 'EPERM'],
  ['io_uring', 'io-uring', 'EPERM'],
  ['memfd exec', 'memfd-exec:/bin/true', 'EPERM'],
  ['open_by_handle_at', `open-by-handle:${ro}/file`, 'EPERM'],
  ['keyctl', 'keyctl', 'EPERM'],
  ['raw IP socket', 'socket:2,3,1', 'EPERM'],
  ['packet socket', 'socket:17,3,0', 'EPERM'],
  ['netlink socket (route)', 'socket:16,3,0', 'EPERM'],
  ['netlink socket (audit)', 'socket:16,3,9', 'EPERM'],
  ['vsock socket (to the VM host)', 'socket:40,1,0', 'EPERM'],
  ['TCP socket with no network', 'socket:2,1,0', 'EPERM'],
  ['disable address randomisation', 'personality:0x0040000', 'EPERM'],
  ['inject terminal input (TIOCSTI)', 'tiocsti', 'EPERM'],
];

describe('processes and kernel interfaces: seccomp and Landlock scoping', () => {
  let inside: RunResult;
  beforeAll(async () => {
    inside = await runSandboxed(fsPolicy(), fx, [fx.probe, ...PROCESS.map(([, op]) => op), 'thread', 'getpid']);
  });

  it.each(PROCESS)('%s: EPERM in deny mode, and the agent goes on', (_name, op, expected) => {
    const index = PROCESS.findIndex(([, o]) => o === op);
    expect(inside.lines[index]).toBe(`${opName(op)} ${expected}`);
  });

  it('still creates threads and finishes', () => {
    expect(inside.lines.slice(-2)).toEqual(['thread ok', 'getpid ok']);
    expect(inside.code).toBe(0);
  });

  it('the outside process survived the attempts', () => {
    expect(outside.exitCode).toBeNull();
    expect(outside.signalCode).toBeNull();
  });

  it.each(PROCESS.filter(([, op]) => !op.startsWith('kill:')))(
    '%s: kills the agent at once (SIGSYS) in kill mode',
    async (_name, op) => {
      const r = await runSandboxed(fsPolicy({ onViolation: 'kill' }), fx, [fx.probe, 'getpid', op, 'getpid']);
      expect(r.signal).toBe('SIGSYS');
      expect(r.lines).toEqual(['getpid ok']);
    },
  );

  it('in kill mode a Landlock denial is EACCES (Landlock cannot kill; the audit side can)', async () => {
    const r = await runSandboxed(fsPolicy({ onViolation: 'kill' }), fx, [fx.probe, `read:${secret}`, 'getpid']);
    expect(r.lines).toEqual(['read EACCES', 'getpid ok']);
    expect(r.code).toBe(0);
  });
});

describe('with spawn and exec allowed (development-like)', () => {
  const devPolicy = () =>
    policy(fx, { filesystem: { read: [...SYSTEM_READ, ro], write: [ws], exec: [...SYSTEM_EXEC, dirname(fx.probe)] }, execution: { spawn: true, exec: true } });

  it('forks and execs system programs, not what it wrote, and never a memfd', async () => {
    writeFileSync(join(ws, 'dropped'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    chownSync(join(ws, 'dropped'), NOBODY, NOBODY);
    const r = await runSandboxed(devPolicy(), fx, [fx.probe, 'fork', 'thread', 'clone-newuser', 'memfd-exec:/bin/true', 'memfd-sealed-exec:/bin/true', `exec:${ws}/dropped`, 'exec:/bin/true']);
    expect(r.lines).toEqual(['fork ok', 'thread ok', 'clone-newuser EPERM', 'memfd-exec EPERM', 'memfd-sealed-exec EACCES', 'exec EACCES']);
    expect(r.code).toBe(0); // /bin/true replaced the probe and exited 0
  });
});

describe('network: Landlock TCP ports', () => {
  let allowed: Server;
  let other: Server;
  const port = (s: Server) => (s.address() as { port: number }).port;
  beforeAll(async () => {
    allowed = createServer((c) => c.end());
    other = createServer((c) => c.end());
    await Promise.all([allowed, other].map((s) => new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()))));
  });
  afterAll(() => {
    allowed.close();
    other.close();
  });

  it('connects to an allowed port only', async () => {
    const pol = policy(fx, {
      network: { allow: [{ address: '127.0.0.1', prefix: 32, family: 4, ports: [[port(allowed), port(allowed)]], protocol: 'tcp', source: 'test' }] },
    });
    const r = await runSandboxed(pol, fx, [fx.probe, `connect:${port(allowed)}`, `connect:${port(other)}`, 'socket:2,3,1', 'socket:16,3,9']);
    expect(r.lines).toEqual(['connect ok', 'connect EACCES', 'socket EPERM', 'socket EPERM']);
  });

  it('cannot bind or connect over TCP at all without a network', async () => {
    const r = await runSandboxed(policy(fx), fx, [fx.probe, `connect:${port(allowed)}`, 'bind:0']);
    expect(r.lines).toEqual(['connect EPERM', 'bind EPERM']);
  });
});

describe('architectures seccomp does not inspect', () => {
  it.each(['x32-getpid', 'i386-getpid'])('%s kills the agent even in deny mode', async (op) => {
    const r = await runSandboxed(policy(fx), fx, [fx.probe, 'getpid', op, 'getpid']);
    expect(r.signal).toBe('SIGSYS');
    expect(r.lines).toEqual(['getpid ok']);
  });
});

describe('real programs', () => {
  it('python3: threads work, subprocess and the secret do not', async () => {
    const script = [
      'import threading, subprocess, os',
      't = threading.Thread(target=lambda: None); t.start(); t.join(); print("thread ok")',
      'try:\n    subprocess.run(["/bin/true"])\nexcept OSError as e:\n    print("subprocess", e.errno)',
      `try:\n    open(${JSON.stringify(secret)}).read()\nexcept OSError as e:\n    print("secret", e.errno)`,
      'print("uid", os.getuid(), os.getgid(), os.getgroups())',
    ].join('\n');
    const r = await runSandboxed(policy(fx, { filesystem: { read: [...SYSTEM_READ, '/etc'], write: [ws], exec: SYSTEM_EXEC } }), fx, ['/usr/bin/python3', '-c', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['thread ok', 'subprocess 1', 'secret 13', `uid ${NOBODY} ${NOBODY} []`]);
  });

  it('/bin/sh: builtins run, a command cannot be spawned', async () => {
    const r = await runSandboxed(policy(fx), fx, ['/bin/sh', '-c', 'echo in-sh; /bin/true; echo after']);
    expect(r.stdout).toBe('in-sh\n');
    expect(r.stderr).toBe('/bin/sh: 1: Cannot fork\n');
    expect(r.code).toBe(2);
  });
});
