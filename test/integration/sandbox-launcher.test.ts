/**
 * airlock-launch and launch.ts on the real kernel: the start-blocked/release
 * protocol, what the agent ends up as (uid, groups, capabilities,
 * no_new_privs, seccomp, descriptors, cgroups, mount namespace), and every
 * refusal: a missing layer, a protected root reached through a symlink, a bad
 * spec, a program that cannot run. A refusal never runs the program.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLaunchSpec, launchAgent, LAUNCHER_EXIT, probeHost, startAgent, defaultLauncherPath, type LaunchFacts } from '../../services/enforcer/launch.js';
import { parseShebang, resolveProgram } from '../../services/enforcer/launch-program.js';
import { prepareProfile, resolvePolicy } from '../../services/enforcer/policy/index.js';
import { makeFixture, NOBODY, policy, runSandboxed, SYSTEM_READ } from './sandbox-helpers.js';

const run = promisify(execFile);
const fx = makeFixture();
const marker = join(fx.workspace, 'ran');
const touchMarker = ['/bin/sh', '-c', `echo > ${marker}`];
afterAll(() => fx.cleanup());

async function specFor(pol = policy(fx), facts: Partial<LaunchFacts> = {}) {
  const all: LaunchFacts = { workspace: fx.workspace, command: touchMarker, ...facts };
  return buildLaunchSpec(pol, all, await resolveProgram(all.command, { workspace: fx.workspace, searchPath: '/usr/bin:/bin' }));
}

describe('what the agent runs as', () => {
  it('nobody (ids given), no groups, no capabilities in any set, no_new_privs, three seccomp filters (compat, policy, metadata)', async () => {
    const r = await runSandboxed(policy(fx), fx, ['/bin/cat', '/proc/self/status']);
    const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(r.stdout)?.[1]?.trim().split(/\s+/).join(' ');
    expect(field('Uid')).toBe(`${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`);
    expect(field('Gid')).toBe(`${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`);
    expect(field('Groups')).toBe('');
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(field(set)).toBe('0000000000000000');
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
    expect(field('Seccomp_filters')).toBe('3');
  });

  it('inherits no descriptor but 0, 1 and 2 (a probe started directly does see an extra one)', async () => {
    const r = await runSandboxed(policy(fx), fx, [fx.probe, 'fds']);
    expect(r.stdout).toMatch(/^open-fds \[\]$/m);
    const control = spawn(fx.probe, ['fds'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    let out = '';
    control.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((res) => control.once('close', res));
    expect(out).toMatch(/^open-fds \[3,/m);
  });

  it('gets exactly the environment it is given, with a minimal default', async () => {
    const byDefault = await runSandboxed(policy(fx), fx, ['/usr/bin/env']);
    expect(byDefault.stdout.trim().split('\n').sort()).toEqual([`HOME=${fx.workspace}`, 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin']);
    const given = await runSandboxed(policy(fx), fx, ['/usr/bin/env'], { env: { A: 'b c', 'X_Y': '%\n' } });
    expect(given.stdout).toBe('A=b c\nX_Y=%\n\n');
  });

  it('runs in the workspace, with arguments passed through untouched', async () => {
    const r = await runSandboxed(policy(fx), fx, ['/bin/sh', '-c', 'pwd; printf "[%s]" "$@"', 'sh', '', 'a b', '%41', 'é\n']);
    expect(r.stdout).toBe(`${fx.workspace}\n[][a b][%41][é\n]`);
  });
});

describe('start blocked, register, then exec', () => {
  const pidsCg = `/sys/fs/cgroup/pids/airlock-sandbox-launch-${process.pid}`;
  const unifiedCg = `/sys/fs/cgroup/unified/airlock-sandbox-launch-${process.pid}`;
  beforeAll(() => [pidsCg, unifiedCg].forEach((d) => mkdirSync(d)));
  afterAll(() => [pidsCg, unifiedCg].forEach((d) => existsSync(d) && rmdirSync(d)));

  it('sits in its cgroups, still the launcher, until released; then it is the program', async () => {
    const agent = await launchAgent(policy(fx), { workspace: fx.workspace, command: ['/bin/sleep', '30'], cgroups: [pidsCg, unifiedCg] }, { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      for (const cg of [pidsCg, unifiedCg]) expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n')).toContain(String(agent.pid));
      expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe(defaultLauncherPath());
      await new Promise((res) => setTimeout(res, 100));
      expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe(defaultLauncherPath()); // still waiting
      await agent.release();
      expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe('/usr/bin/sleep');
      const cgroups = readFileSync(`/proc/${agent.pid}/cgroup`, 'utf8');
      expect(cgroups).toContain(`:pids:/airlock-sandbox-launch-${process.pid}\n`);
      expect(cgroups).toContain(`0::/airlock-sandbox-launch-${process.pid}\n`);
    } finally {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
  });

  it('runs nothing when the enforcer aborts instead of releasing', async () => {
    const agent = await startAgent(await specFor());
    agent.abort();
    expect(await agent.exited).toEqual({ code: LAUNCHER_EXIT.ABORTED, signal: null });
    expect(existsSync(marker)).toBe(false);
  });
});

describe('refusals: the program never runs', () => {
  it('when the host’s Landlock ABI is below what the spec needs', async () => {
    const spec = await specFor();
    spec.landlock.abi = 99;
    await expect(startAgent(spec)).rejects.toMatchObject({ code: 'ENFORCER_LAYER_UNAVAILABLE', details: { exitCode: LAUNCHER_EXIT.UNAVAILABLE, stage: 'landlock' } });
    expect(existsSync(marker)).toBe(false);
  });

  it('when a no-exec policy cannot be held to one exec (vm.mmap_min_addr 0), while an exec policy still runs', async () => {
    const sysctl = '/proc/sys/vm/mmap_min_addr';
    const before = readFileSync(sysctl, 'utf8').trim();
    writeFileSync(sysctl, '0');
    try {
      await expect(startAgent(await specFor())).rejects.toMatchObject({ code: 'ENFORCER_LAYER_UNAVAILABLE', details: { stage: 'exec-gate' } });
      expect(existsSync(marker)).toBe(false);
      const r = await runSandboxed(policy(fx, { execution: { exec: true } }), fx, ['/bin/echo', 'runs']);
      expect(r.stdout).toBe('runs\n');
    } finally {
      writeFileSync(sysctl, before);
    }
  });

  it('when a granted path is a symlink to a parent of a protected root', async () => {
    const link = join(fx.root, 'to-sys-fs');
    symlinkSync('/sys/fs', link);
    await expect(startAgent(await specFor(policy(fx, { filesystem: { read: [...SYSTEM_READ, link] } })))).rejects.toMatchObject({
      code: 'ENFORCER_PROTECTED_PATH',
      details: { exitCode: LAUNCHER_EXIT.PROTECTED, stage: 'protected' },
    });
    expect(existsSync(marker)).toBe(false);
  });

  it('when a granted path is a symlink into a protected root', async () => {
    const link = join(fx.root, 'into-cgroupfs');
    symlinkSync('/sys/fs/cgroup/pids', link);
    await expect(startAgent(await specFor(policy(fx, { filesystem: { read: [...SYSTEM_READ, link] } })))).rejects.toMatchObject({
      code: 'ENFORCER_PROTECTED_PATH',
      message: expect.stringContaining('inside the protected root /sys/fs/cgroup'),
    });
  });

  it('when a granted path is another name for a protected root the caller gave', async () => {
    const alias = join(fx.root, 'alias-of-secret');
    symlinkSync(fx.secret, alias);
    const spec = await specFor(policy(fx, { filesystem: { read: [...SYSTEM_READ, alias] } }), { protectedRoots: [fx.secret] });
    await expect(startAgent(spec)).rejects.toMatchObject({ code: 'ENFORCER_PROTECTED_PATH', message: expect.stringContaining(`protected root ${fx.secret}`) });
  });

  it('before starting anything when a granted path contains a protected root by name', async () => {
    await expect(launchAgent(policy(fx, { filesystem: { read: [fx.root] } }), { workspace: fx.workspace, command: touchMarker, protectedRoots: [fx.secret] })).rejects.toMatchObject({
      code: 'ENFORCER_PROTECTED_PATH',
      details: { path: fx.root, protectedRoot: fx.secret },
    });
  });

  it.each([
    ['uid', { uid: 0 }],
    ['gid', { gid: 0 }],
  ])('for a root %s', async (_what, ids) => {
    await expect(launchAgent(policy(fx), { workspace: fx.workspace, command: touchMarker, ...ids })).rejects.toMatchObject({ code: 'ENFORCER_SPEC_INVALID' });
  });

  it('when the program does not exist, or is a script with a relative interpreter', async () => {
    await expect(launchAgent(policy(fx), { workspace: fx.workspace, command: ['no-such-program'] })).rejects.toMatchObject({ code: 'ENFORCER_PROGRAM_NOT_FOUND' });
    const script = join(fx.workspace, 'relative.sh');
    writeFileSync(script, '#!sh\necho hi\n', { mode: 0o755 });
    await expect(launchAgent(policy(fx), { workspace: fx.workspace, command: ['./relative.sh'] })).rejects.toMatchObject({ code: 'ENFORCER_PROGRAM_NOT_FOUND' });
  });

  it('when an exec policy does not let the program run (not in its exec paths)', async () => {
    const r = launchAgent(policy(fx, { execution: { exec: true, spawn: true } }), { workspace: fx.workspace, command: [fx.probe, 'getpid'] });
    await expect(r.then((a) => a.release())).rejects.toMatchObject({ code: 'ENFORCER_LAUNCH_FAILED', details: { stage: 'exec', exitCode: LAUNCHER_EXIT.EXEC } });
  });

  it('when the agent cannot enter its workspace', async () => {
    const closed = join(fx.root, 'closed');
    mkdirSync(closed, { mode: 0o700 });
    const agent = await launchAgent(policy(fx, { filesystem: { write: [closed] } }), { workspace: closed, command: touchMarker });
    await expect(agent.release()).rejects.toMatchObject({ code: 'ENFORCER_LAUNCH_FAILED', details: { stage: 'workspace', exitCode: LAUNCHER_EXIT.WORKSPACE } });
  });

  it.each([
    ['no "end" line', 'airlock-launch-spec 1\nuid 65534\n', /no "end" line/],
    ['an unknown directive', 'airlock-launch-spec 1\nsurprise 1\nend\n', /unknown directive "surprise"/],
    ['uid 0', 'airlock-launch-spec 1\nuid 0\ngid 0\nend\n', /never runs as uid or gid 0/],
    ['no seccomp filter', 'airlock-launch-spec 1\nuid 1\ngid 1\nlandlock-abi 1\nlandlock-fs 1\nend\n', /seccomp filter is required/],
    ['a NUL byte in a string', 'airlock-launch-spec 1\nworkspace /a%00b\nend\n', /NUL byte/],
  ])('when the spec has %s (exit 111, the reason on stderr)', async (_what, text, reason) => {
    const child = spawn(defaultLauncherPath(), ['--spec-fd', '3', '--ctl-fd', '4'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    (child.stdio[3] as NodeJS.WritableStream).end(text);
    const code = await new Promise((res) => child.once('close', res));
    expect(code).toBe(LAUNCHER_EXIT.SPEC);
    expect(stderr).toMatch(/^airlock-launch: spec: /);
    expect(stderr).toMatch(reason);
  });

  it('the exit codes launch.ts knows are the ones the launcher uses (common.h)', () => {
    const header = readFileSync(new URL('../../services/enforcer/native/src/common.h', import.meta.url), 'utf8');
    const inC = Object.fromEntries([...header.matchAll(/EXIT_(\w+) = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(inC).toEqual(LAUNCHER_EXIT);
  });

  it('on a bad command line (exit 110)', async () => {
    await expect(run(defaultLauncherPath(), ['--spec-fd', '1'])).rejects.toMatchObject({ code: LAUNCHER_EXIT.USAGE });
  });
});

describe('programs and scripts', () => {
  it('parses #! lines as the kernel does', () => {
    const head = (s: string) => Buffer.from(s, 'latin1');
    expect(parseShebang(head('#!/bin/sh\n'))).toEqual({ interpreter: '/bin/sh' });
    expect(parseShebang(head('#!  /usr/bin/python3   -u -B  \r\nprint()'))).toEqual({ interpreter: '/usr/bin/python3', arg: '-u -B' });
    expect(parseShebang(head('#!/usr/bin/env\tnode\n'))).toEqual({ interpreter: '/usr/bin/env', arg: 'node' });
    expect(parseShebang(head('\x7fELF'))).toBeUndefined();
    expect(parseShebang(head('#!\n'))).toBeUndefined();
  });

  it('runs a script in the workspace through its interpreter, even under no-exec', async () => {
    const script = join(fx.workspace, 'hello.sh');
    writeFileSync(script, '#!/bin/sh -u\necho "$0:$1"\n', { mode: 0o755 });
    const r = await runSandboxed(policy(fx), fx, ['./hello.sh', 'world']);
    expect(r.stdout).toBe(`${script}:world\n`);
  });

  it('lets a no-exec agent run its program once, and never again: the gate page is gone', async () => {
    const r = await runSandboxed(policy(fx), fx, [fx.probe, 'execveat-gate:16', 'map-page-zero', `exec:${fx.probe}`, 'getpid']);
    expect(r.lines).toEqual(['execveat-gate EFAULT', 'map-page-zero EPERM', 'exec EPERM', 'getpid ok']);
  });
});

describe('own mount namespace with a private /tmp', () => {
  const vfx = makeFixture('/var/tmp');
  const hostFile = `/tmp/airlock-sandbox-host-${process.pid}`;
  beforeAll(() => writeFileSync(hostFile, 'host\n', { mode: 0o644 }));
  afterAll(() => {
    vfx.cleanup();
    rmSync(hostFile, { force: true });
  });

  it('sees an empty tmpfs it owns, and its files never reach the host', async () => {
    const pol = policy(vfx, { filesystem: { read: [...SYSTEM_READ], write: [vfx.workspace, '/tmp'] } });
    const r = await runSandboxed(pol, vfx, [vfx.probe, `read:${hostFile}`, 'write:/tmp/agent-file', 'read:/tmp/agent-file'], { privateTmp: '/tmp' });
    expect(r.lines).toEqual(['read ENOENT', 'write ok', 'read ok']);
    expect(existsSync('/tmp/agent-file')).toBe(false);
    expect(readFileSync(hostFile, 'utf8')).toBe('host\n');
  });
});

describe('the built-in profiles, compiled by the policy compiler', () => {
  it('sandbox: reads the system, writes the workspace, is killed at its first fork', async () => {
    const { policy: sandbox } = await resolvePolicy(prepareProfile('sandbox', { workspace: fx.workspace, tmp: fx.workspace }));
    const r = await runSandboxed(sandbox, fx, [fx.probe, 'read:/etc/passwd', `write:${fx.workspace}/out`, `read:${join(fx.secret, 'file')}`, 'socket:2,1,0']);
    expect(r.lines).toEqual(['read ok', 'write ok', 'read EACCES']);
    expect(r.signal).toBe('SIGSYS');
  });

  it('development: forks and execs from the workspace, is killed at bpf()', async () => {
    const { policy: dev } = await resolvePolicy(prepareProfile('development', { workspace: fx.workspace, tmp: fx.workspace }));
    const probe = join(fx.workspace, 'probe');
    copyFileSync(fx.probe, probe);
    chmodSync(probe, 0o755);
    chownSync(probe, NOBODY, NOBODY);
    const r = await runSandboxed(dev, fx, [probe, 'fork', 'thread', 'bpf', 'getpid']);
    expect(r.lines).toEqual(['fork ok', 'thread ok']);
    expect(r.signal).toBe('SIGSYS');
  });
});

describe('probe', () => {
  it('reports the host’s layers for airlock doctor', async () => {
    const host = await probeHost();
    expect(host.landlock.abi).toBeGreaterThanOrEqual(7);
    expect(host.seccomp.available).toBe(true);
    expect(host.mmapMinAddr).toBeGreaterThan(0x10);
  });
});
