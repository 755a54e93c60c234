/**
 * The agent's own PID, mount and cgroup namespaces, on the real kernel: the
 * launcher forks the agent (pid 2) under an init (pid 1) and reports the
 * agent's host pid; /proc shows the agent's tree only, so every process of
 * it reads its own /proc/self; cgroupfs is an empty read-only tmpfs; the
 * waiting processes relay the agent's status and signals, reap orphans, and
 * nothing outlives the agent's first process or the launcher.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statfsSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLaunchSpec, defaultLauncherPath, launchAgent, LAUNCHER_EXIT, startAgent, type AgentProcess } from '../../services/enforcer/launch.js';
import { encodeLaunchSpec } from '../../services/enforcer/launch-spec.js';
import { resolveProgram } from '../../services/enforcer/launch-program.js';
import { makeFixture, outsider, policy, runSandboxed, SYSTEM_EXEC, SYSTEM_READ } from './sandbox-helpers.js';

const fx = makeFixture();
const outside = outsider(fx.workspace);
/** Spawn and exec allowed, as development: the tree has more than one process. */
const devPolicy = () => policy(fx, { filesystem: { exec: [...SYSTEM_EXEC, dirname(fx.probe)] }, execution: { spawn: true, exec: true } });
const TMPFS_MAGIC = 0x01021994;

afterAll(() => {
  outside.kill('SIGKILL');
  fx.cleanup();
});

function status(pid: number): Record<string, string> {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim().split(/\s+/).join(' ')]));
}

/** Host processes whose command line contains `marker`. */
function withMarker(marker: string): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(what: string, predicate: () => boolean, ms = 3000): Promise<void> {
  for (const deadline = Date.now() + ms; !predicate(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('the process tree', () => {
  let agent: AgentProcess;
  beforeAll(async () => {
    agent = await launchAgent(policy(fx), { workspace: fx.workspace, command: ['/bin/sleep', '30'] }, { stdio: ['ignore', 'ignore', 'pipe'] });
  });
  afterAll(async () => {
    agent.child.kill('SIGKILL');
    await agent.exited;
  });

  it('`ready` names the agent by its host pid: pid 2 of a PID namespace whose init is the launcher’s child', () => {
    const me = status(agent.pid);
    expect(me.NSpid).toBe(`${agent.pid} 2`);
    const init = Number(me.PPid);
    expect(status(init).NSpid).toBe(`${init} 1`);
    expect(Number(status(init).PPid)).toBe(agent.child.pid);
    expect(status(agent.child.pid!).NSpid).toBe(String(agent.child.pid)); // the launcher stays in the host's
    expect(readlinkSync(`/proc/${agent.pid}/ns/pid`)).not.toBe(readlinkSync('/proc/self/ns/pid'));
    expect(readlinkSync(`/proc/${agent.pid}/ns/cgroup`)).not.toBe(readlinkSync('/proc/self/ns/cgroup'));
  });

  it('the pid it reported is the one that executes the program', async () => {
    expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe(defaultLauncherPath());
    await agent.release();
    expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe('/usr/bin/sleep');
  });

  it('cgroupfs is an empty read-only tmpfs in its mount namespace, the host’s is untouched', () => {
    const masked = `/proc/${agent.pid}/root/sys/fs/cgroup`;
    expect(readdirSync(masked)).toEqual([]);
    expect(statfsSync(masked).type).toBe(TMPFS_MAGIC);
    expect(readFileSync(`/proc/${agent.pid}/mountinfo`, 'utf8')).toMatch(/ \/sys\/fs\/cgroup ro,nosuid,nodev,noexec[^\n]* - tmpfs /);
    expect(readdirSync('/sys/fs/cgroup')).toContain('pids');
  });
});

describe('/proc is its own', () => {
  it('shows the agent’s processes only: not its init, the host’s pid 1, nor anyone outside', async () => {
    const r = await runSandboxed(devPolicy(), fx, ['/bin/sh', '-c', `ls /proc; cat /proc/1/cmdline /proc/${outside.pid}/cmdline; echo "self=$(readlink /proc/self)"`]);
    const listed = r.stdout.trim().split('\n');
    expect(listed.filter((l) => !/^\d+$/.test(l) && !l.startsWith('self='))).toEqual(['self', 'thread-self']);
    const pids = listed.filter((l) => /^\d+$/.test(l)).map(Number);
    expect(pids).toContain(2); // sh, the agent's first process
    expect(pids).not.toContain(1);
    expect(Math.max(...pids)).toBeLessThan(10);
    expect(r.stdout).toMatch(/^self=\d+$/m);
    expect(r.stderr).toContain('/proc/1/cmdline: No such file or directory');
    expect(r.stderr).toContain(`/proc/${outside.pid}/cmdline: No such file or directory`);
  });

  it('a child reads its own /proc/self (once a Landlock denial: /proc/self was the first process’s)', async () => {
    const r = await runSandboxed(devPolicy(), fx, ['/bin/sh', '-c', 'grep -q . /proc/self/maps && echo maps-ok; grep "^Pid:" /proc/self/status']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^maps-ok\nPid:\t([3-9]|\d\d+)\n$/);
  });

  it('nothing system-wide: meminfo, stat and sys are absent (ENOENT, not a denial)', async () => {
    const r = await runSandboxed(devPolicy(), fx, [fx.probe, 'read:/proc/meminfo', 'read:/proc/stat', 'read:/proc/sys/kernel/hostname', 'read:/proc/self/status']);
    expect(r.lines).toEqual(['read ENOENT', 'read ENOENT', 'read ENOENT', 'read ok']);
  });
});

describe('the waiting processes', () => {
  it('relay the agent’s exit code', async () => {
    const r = await runSandboxed(devPolicy(), fx, ['/bin/sh', '-c', 'exit 42']);
    expect(r).toMatchObject({ code: 42, signal: null });
  });

  it('end the rest of the tree with its first process, daemons in new sessions included', async () => {
    const marker = '31.4159';
    const r = await runSandboxed(devPolicy(), fx, ['/bin/sh', '-c', `sleep ${marker} & setsid sleep ${marker} & sleep 0.2; echo started`]);
    expect(r.stdout).toBe('started\n');
    expect(withMarker(marker)).toEqual([]); // gone by the time the launcher exited
  });

  it('reap orphans (pid 1): an orphan does not stay a zombie, as a child its parent never waited for does', async () => {
    const script = `
import os, time
child = os.fork()
if child == 0:
    os._exit(0)
r, w = os.pipe()
middle = os.fork()
if middle == 0:
    orphan = os.fork()
    if orphan == 0:
        time.sleep(0.1)
        os._exit(0)
    os.write(w, str(orphan).encode())
    os._exit(0)
os.waitpid(middle, 0)
orphan = int(os.read(r, 32))
time.sleep(0.4)
def state(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split()[2]
    except OSError as e:
        return e.strerror
print(state(child), state(orphan))
`;
    const r = await runSandboxed(devPolicy(), fx, ['/usr/bin/python3', '-c', script]);
    expect(r.stdout).toBe('Z No such file or directory\n');
  });

  it('forward a signal sent to the launcher to the agent, and end as it did', async () => {
    const agent = await launchAgent(devPolicy(), { workspace: fx.workspace, command: ['/bin/sh', '-c', 'trap "echo got-term; exit 7" TERM; echo up; while :; do sleep 0.05; done'] }, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    agent.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    await agent.release();
    await until('the agent to start', () => out.includes('up'));
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 7, signal: null });
    expect(out).toBe('up\ngot-term\n');
  });

  it('die of the signal that killed the agent', async () => {
    const agent = await launchAgent(policy(fx), { workspace: fx.workspace, command: ['/bin/sleep', '30'] }, { stdio: ['ignore', 'ignore', 'ignore'] });
    await agent.release();
    process.kill(agent.pid, 'SIGUSR1');
    expect(await agent.exited).toEqual({ code: null, signal: 'SIGUSR1' });
  });

  it('take the agent down when the launcher is SIGKILLed', async () => {
    const marker = '32.7182';
    const agent = await launchAgent(devPolicy(), { workspace: fx.workspace, command: ['/bin/sh', '-c', `sleep ${marker} & sleep ${marker}`] }, { stdio: ['ignore', 'ignore', 'ignore'] });
    await agent.release();
    await until('the sleepers', () => withMarker(marker).length === 3); // sh -c names it too
    const init = Number(status(agent.pid).PPid);
    agent.child.kill('SIGKILL');
    await agent.exited;
    await until('init and the agent’s tree to be gone', () => !alive(init) && withMarker(marker).length === 0);
  });
});

describe('protected roots and masks', () => {
  const cg = `/sys/fs/cgroup/pids/airlock-sandbox-ns-${process.pid}`;
  beforeAll(() => mkdirSync(cg));
  afterAll(() => existsSync(cg) && rmdirSync(cg));

  it('the agent joins its cgroups before the mask hides them, and cannot leave them', async () => {
    const script = [
      'echo 0 > /sys/fs/cgroup/pids/cgroup.procs',
      'echo 0 > /proc/self/root/sys/fs/cgroup/unified/cgroup.procs',
      'grep pids /proc/self/cgroup',
      'echo done',
      'exec sleep 30',
    ].join('; ');
    const agent = await launchAgent(devPolicy(), { workspace: fx.workspace, command: ['/bin/sh', '-c', script], cgroups: [cg] }, { stdio: ['ignore', 'pipe', 'pipe'] });
    expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n')).toEqual([String(agent.pid)]);
    let out = '';
    let err = '';
    agent.child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    agent.child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    await agent.release();
    try {
      await until('the attempts', () => out.includes('done'));
      expect(err.match(/Directory nonexistent/g)).toHaveLength(2);
      expect(out).toMatch(/^\d+:pids:\/\n/); // its cgroup namespace's root: its own cgroup
      expect(readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n')).toEqual([String(agent.pid)]);
      expect(readFileSync(`/proc/${agent.pid}/cgroup`, 'utf8')).toContain(`:pids:/airlock-sandbox-ns-${process.pid}\n`);
    } finally {
      agent.child.kill('SIGKILL');
      await agent.exited;
    }
  });

  it('a granted symlink to the masked /sys/fs/cgroup is still refused: rules are made before the mask', async () => {
    const link = join(fx.root, 'to-cgroupfs');
    symlinkSync('/sys/fs/cgroup', link);
    const facts = { workspace: fx.workspace, command: ['/bin/true'] };
    const spec = buildLaunchSpec(policy(fx, { filesystem: { read: [...SYSTEM_READ, link], exec: SYSTEM_EXEC } }), facts, await resolveProgram(facts.command, { workspace: fx.workspace, searchPath: '/bin' }));
    expect(spec.masks).toEqual(['/sys/fs/cgroup']);
    await expect(startAgent(spec)).rejects.toMatchObject({ code: 'ENFORCER_PROTECTED_PATH', details: { exitCode: LAUNCHER_EXIT.PROTECTED } });
  });

  it('a mask must be an absolute path (spec refused, exit 111)', async () => {
    const facts = { workspace: fx.workspace, command: ['/bin/true'] };
    const spec = buildLaunchSpec(policy(fx), facts, await resolveProgram(facts.command, { workspace: fx.workspace, searchPath: '/bin' }));
    const child = spawn(defaultLauncherPath(), ['--spec-fd', '3', '--ctl-fd', '4'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    (child.stdio[3] as NodeJS.WritableStream).end(encodeLaunchSpec({ ...spec, masks: ['sys/fs/cgroup'] }));
    expect(await new Promise((res) => child.once('close', res))).toBe(LAUNCHER_EXIT.SPEC);
    expect(stderr).toContain('mask sys/fs/cgroup is not an absolute path');
  });
});
