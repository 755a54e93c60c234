/**
 * Programs from the cBPF assembler and the filter generator, installed by the
 * launcher and run against real syscalls: the kernel's verdict, not ours.
 */
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLaunchSpec, startAgent } from '../../services/enforcer/launch.js';
import { resolveProgram } from '../../services/enforcer/launch-program.js';
import { Assembler, NEXT, type Instruction } from '../../services/enforcer/seccomp/index.js';
import { finish, makeFixture, NOBODY, parseProbe, policy, runSandboxed, SYSTEM_EXEC, SYSTEM_READ } from './sandbox-helpers.js';

const run = promisify(execFile);
const fx = makeFixture();
afterAll(() => fx.cleanup());

const JEQ = 0x10;
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const EACCES = 0x0005000d;
const SYS_getpid = 39;

/** Runs the probe with `program` as the only seccomp filter (Landlock and the rest as usual). */
async function withFilter(program: Instruction[], ops: string[]) {
  const facts = { workspace: fx.workspace, command: [fx.probe, ...ops] };
  const pol = policy(fx, { execution: { exec: true, spawn: true }, filesystem: { exec: [...SYSTEM_EXEC, dirname(fx.probe)] } });
  const spec = buildLaunchSpec(pol, facts, await resolveProgram(facts.command, { workspace: fx.workspace, searchPath: '/bin' }));
  spec.seccomp = { filters: [{ name: 'policy', flags: 1, program }] };
  return finish(await startAgent(spec, { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function filler(a: Assembler, n: number): Assembler {
  for (let i = 0; i < n; i++) a.loadAbsolute(0);
  return a;
}

describe('assembler output in the kernel', () => {
  it('a conditional jump whose true target is 300 instructions away', async () => {
    const a = new Assembler().loadAbsolute(0).jump(JEQ, SYS_getpid, 'far_deny', NEXT).ret(ALLOW);
    const program = filler(a, 300).label('far_deny').ret(EPERM).assemble();
    expect(program.length).toBe(305); // one trampoline
    const r = await withFilter(program, ['getpid', 'thread']);
    expect(r.lines).toEqual(['getpid EPERM', 'thread ok']);
  });

  it('a conditional jump whose false target is 300 instructions away', async () => {
    const a = new Assembler().loadAbsolute(0).jump(JEQ, SYS_getpid, NEXT, 'far_allow').ret(EACCES);
    const program = filler(a, 300).label('far_allow').ret(ALLOW).assemble();
    const r = await withFilter(program, ['getpid', 'thread']);
    expect(r.lines).toEqual(['getpid EACCES', 'thread ok']);
  });

  it('both targets far, the filter near the kernel’s 4096-instruction limit', async () => {
    const a = new Assembler().loadAbsolute(0).jump(JEQ, SYS_getpid, 'deny', 'allow');
    filler(a, 2000).label('deny').ret(EPERM);
    const program = filler(a, 2000).label('allow').ret(ALLOW).assemble();
    expect(program.length).toBe(4006);
    const r = await withFilter(program, ['getpid', 'thread', 'getpid']);
    expect(r.lines).toEqual(['getpid EPERM', 'thread ok', 'getpid EPERM']);
  });

  it('a filter the kernel refuses is a launch failure, not an unfiltered run', async () => {
    const bad: Instruction[] = [{ code: 0x20, jt: 0, jf: 0, k: 64 }, { code: 0x06, jt: 0, jf: 0, k: ALLOW }]; // load past seccomp_data
    await expect(withFilter(bad, ['getpid'])).rejects.toMatchObject({ code: 'ENFORCER_LAUNCH_FAILED', details: { stage: 'seccomp' } });
  });
});

describe('generated rules in the kernel', () => {
  it('clone3 gets ENOSYS, and libc falls back to clone for threads and posix_spawn', async () => {
    const pol = policy(fx, { filesystem: { read: [...SYSTEM_READ, '/etc'] }, execution: { spawn: true, exec: true } });
    const script = 'import subprocess, threading\nt = threading.Thread(target=print, args=("thread",)); t.start(); t.join()\nprint(subprocess.run(["/bin/echo", "child"], capture_output=True).stdout.decode().strip())';
    const r = await runSandboxed(pol, fx, ['/usr/bin/python3', '-c', script]);
    expect(r.stdout).toBe('thread\nchild\n');
    const probe = await runSandboxed(policy(fx), fx, [fx.probe, 'clone3']);
    expect(probe.lines).toEqual(['clone3 ENOSYS']);
  });

  it('TIOCSTI is refused by seccomp, before the terminal layer (outside: ENOTTY on a pipe)', async () => {
    const inside = await runSandboxed(policy(fx), fx, [fx.probe, 'tiocsti', 'personality:0xffffffff', 'personality:0x0040000', 'unshare-files', 'socketpair:1']);
    expect(inside.lines).toEqual(['tiocsti EPERM', 'personality ok', 'personality EPERM', 'unshare-files ok', 'socketpair ok']);
    const { stdout } = await run(fx.probe, ['tiocsti', 'personality:0x0040000'], { uid: NOBODY, gid: NOBODY });
    expect(parseProbe(stdout).lines).toEqual(['tiocsti ENOTTY', 'personality ok']);
  });

  it('the exec gate: the launcher’s exec passes it, the agent’s own attempts do not', async () => {
    const r = await runSandboxed(policy(fx, { onViolation: 'kill' }), fx, [fx.probe, 'execveat-gate:16', 'map-page-zero', 'getpid', 'exec:/bin/true', 'getpid']);
    expect(r.lines).toEqual(['execveat-gate EFAULT', 'map-page-zero EPERM', 'getpid ok']);
    expect(r.signal).toBe('SIGSYS');
  });
});

describe('kernel action cache', () => {
  it('an allowed syscall costs about the same under the filters (open/close loop, reported)', async () => {
    const loops = ['openloop:/etc/passwd,200000'];
    const bare = parseFloat(/openloop-ns (\S+)/.exec((await run(fx.probe, loops, { uid: NOBODY, gid: NOBODY })).stdout)?.[1] ?? 'NaN');
    const pol = policy(fx, { filesystem: { read: [...SYSTEM_READ, '/etc/passwd'] } });
    const r = await runSandboxed(pol, fx, [fx.probe, ...loops]);
    const sandboxed = parseFloat(/openloop-ns (\S+)/.exec(r.stdout)?.[1] ?? 'NaN');
    console.log(`open+close: ${bare.toFixed(0)} ns bare, ${sandboxed.toFixed(0)} ns under Landlock + seccomp (${(sandboxed / bare).toFixed(2)}x)`);
    expect(sandboxed / bare).toBeLessThan(3); // a sanity bound, not the benchmark
  });
});
