/**
 * Real cgroups, real kernel, as root: the timeout kills whole trees, freeze
 * stops them, kill works with cgroup.kill and with signals, remove and sweep
 * leave nothing behind.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupManager, detectCgroupLayout, killAfter, type AgentCgroup } from '../../services/enforcer/cgroups/index.js';
import { isRunning, leftovers, sessionOf, startIn, waitFor, type Started } from './cgroups-helpers.js';

const PREFIX = `vt${process.pid}-life-`;
let manager: CgroupManager;
const made: AgentCgroup[] = [];
const started: Started[] = [];
let n = 0;

beforeAll(async () => {
  manager = new CgroupManager(await detectCgroupLayout());
});

afterEach(async () => {
  for (const cg of made.splice(0)) await cg.destroy().catch(() => undefined);
  for (const s of started.splice(0)) s.child.kill('SIGKILL');
  expect(leftovers(manager, PREFIX)).toEqual([]);
});

async function agent(m: CgroupManager = manager): Promise<AgentCgroup> {
  const cg = await m.create(`${PREFIX}${n++}`, { maxProcesses: 64, maxMemoryBytes: 256 * 1024 * 1024 });
  made.push(cg);
  return cg;
}

async function start(cg: AgentCgroup, argv: string[]): Promise<Started> {
  const s = await startIn(cg, argv);
  started.push(s);
  return s;
}

// A child, a grandchild, and a double-forked daemon in its own session: it left
// the process tree and the session, but not the cgroup.
const TREE = `
sleep 300 &
sh -c 'sleep 300 & wait' &
( setsid sh -c 'exec sleep 301' & )
echo started
wait
`;

describe('layout detection on this host', () => {
  it('matches what /sys/fs/cgroup is', async () => {
    const layout = await detectCgroupLayout();
    const CGROUP2_MAGIC = 0x63677270;
    const rootIsV2 = statfsSync('/sys/fs/cgroup').type === CGROUP2_MAGIC;
    expect(layout.kind).toBe(rootIsV2 ? 'v2' : existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? 'hybrid' : 'v1');
    expect(layout.unified).toBe(rootIsV2 ? '/sys/fs/cgroup' : existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : undefined);
    for (const c of ['pids', 'memory'] as const) {
      const where = layout[c]!;
      expect(existsSync(join(where.mount, where.version === 2 ? 'cgroup.subtree_control' : 'cgroup.procs'))).toBe(true);
      if (where.version === 1) expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${where.mount} `);
    }
  });
});

describe('agent cgroups', () => {
  it('creates a directory in every hierarchy with the budgets set, and puts processes in all of them', async () => {
    const cg = await agent();
    expect(cg.allDirs.length).toBeGreaterThan(0);
    for (const dir of cg.allDirs) expect(existsSync(join(dir, 'cgroup.procs'))).toBe(true);
    expect(cg.bpfAttachPath).toBe(manager.layout.unified ? join(manager.layout.unified, 'airlock', cg.id) : undefined);
    const s = await start(cg, ['sleep', '30']);
    await waitFor('the process to exec', () => readFileSync(`/proc/${s.child.pid}/comm`, 'utf8').trim() === 'sleep');
    for (const dir of cg.allDirs) expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim()).toBe(String(s.child.pid));
    const usage = await cg.usage();
    expect(usage.pids).toMatchObject({ current: 1, max: 64, forkFailures: 0 });
    expect(usage.memory.maxBytes).toBe(256 * 1024 * 1024);
    expect(usage.memory.currentBytes).toBeGreaterThan(0);
    expect(await cg.pids()).toEqual([s.child.pid]);
  });

  it('refuses a second cgroup for the same agent, bad ids, bad budgets and unknown agents', async () => {
    const cg = await agent();
    await expect(manager.create(cg.id, { maxProcesses: 1, maxMemoryBytes: 1 << 20 })).rejects.toMatchObject({ code: 'CGROUP_EXISTS', name: 'CgroupError' });
    for (const id of ['', '..', 'a/b', '.hidden', 'x'.repeat(65)]) {
      await expect(manager.create(id, { maxProcesses: 1, maxMemoryBytes: 1 << 20 })).rejects.toMatchObject({ code: 'CGROUP_INVALID_ARGUMENT' });
    }
    await expect(manager.create(`${PREFIX}bad`, { maxProcesses: 0, maxMemoryBytes: 1 << 20 })).rejects.toMatchObject({ code: 'CGROUP_INVALID_ARGUMENT' });
    await expect(manager.open(`${PREFIX}nobody`)).rejects.toMatchObject({ code: 'CGROUP_NOT_FOUND' });
    await expect(cg.addProcess(-1)).rejects.toMatchObject({ code: 'CGROUP_INVALID_ARGUMENT' });
    await expect(cg.addProcess(2 ** 22 + 7)).rejects.toMatchObject({ code: 'CGROUP_IO', details: { errno: 'ESRCH' } });
  });

  it('opens an existing agent cgroup from another manager and lists it', async () => {
    const cg = await agent();
    const other = new CgroupManager(manager.layout);
    expect(await other.list()).toContain(cg.id);
    const again = await other.open(cg.id);
    expect(again.dirs).toEqual(cg.dirs);
  });
});

describe('timeout', () => {
  it('kills the whole tree, grandchildren and a double-forked daemon in another session included', async () => {
    const cg = await agent();
    const s = await start(cg, ['/bin/sh', '-c', TREE]);
    await waitFor('the tree to start', async () => s.output().includes('started') && (await cg.pids()).length >= 5);
    const members = await cg.pids();
    const sessions = new Set(members.map(sessionOf));
    expect(sessions.size).toBeGreaterThanOrEqual(2); // the daemon left the session

    const t0 = Date.now();
    const fired = new Promise<unknown>((resolve) => killAfter(cg, 0.5, resolve));
    expect(await fired).toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(490);
    expect(await cg.isEmpty()).toBe(true);
    for (const pid of members) expect(isRunning(pid)).toBe(false);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('does nothing once cancelled', async () => {
    const cg = await agent();
    const s = await start(cg, ['sleep', '30']);
    const handle = killAfter(cg, 0.2);
    handle.cancel();
    await new Promise((r) => setTimeout(r, 500));
    expect(handle.expired).toBe(false);
    expect(isRunning(s.child.pid!)).toBe(true);
  });
});

describe('freeze and thaw', () => {
  it('stops the tree where it stands and lets it go on', async () => {
    const cg = await agent();
    const s = await start(cg, ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.01; done']);
    await waitFor('output', () => s.output().length > 0);
    await cg.freeze();
    expect(await cg.isFrozen()).toBe(true);
    expect((await cg.usage()).frozen).toBe(true);
    const before = s.output().length;
    await new Promise((r) => setTimeout(r, 300));
    expect(s.output().length).toBe(before);
    await cg.thaw();
    expect(await cg.isFrozen()).toBe(false);
    await waitFor('output after the thaw', () => s.output().length > before, 3000);
  });
});

describe('kill', () => {
  for (const killMethod of ['auto', 'signal'] as const) {
    it(`empties a tree that keeps forking (${killMethod})`, async () => {
      const m = new CgroupManager(manager.layout, { killMethod });
      const cg = await agent(m);
      const s = await start(cg, ['/bin/sh', '-c', 'while :; do sleep 100 & sleep 0.005; done']);
      await waitFor('a few children', async () => (await cg.pids()).length >= 5);
      const members = await cg.pids();
      await cg.kill();
      expect(await cg.isEmpty()).toBe(true);
      for (const pid of members) expect(isRunning(pid)).toBe(false);
      expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
    });
  }

  it('kills a frozen tree', async () => {
    const cg = await agent();
    const s = await start(cg, ['sleep', '30']);
    await cg.freeze();
    await cg.kill();
    expect(await cg.isEmpty()).toBe(true);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('remove and sweep', () => {
  it('will not remove a cgroup that has processes, and removes it from every hierarchy once empty', async () => {
    const cg = await agent();
    await start(cg, ['sleep', '30']);
    await expect(cg.remove({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'CGROUP_BUSY' });
    for (const dir of cg.allDirs) expect(existsSync(dir)).toBe(true);
    await cg.destroy();
    for (const dir of cg.allDirs) expect(existsSync(dir)).toBe(false);
  });

  it('sweeps what a crashed run left: empty and half-made cgroups go, busy ones stay unless killed', async () => {
    const crashed = new CgroupManager(manager.layout);
    const busy = await crashed.create(`${PREFIX}busy`, { maxProcesses: 8, maxMemoryBytes: 64 << 20 });
    made.push(busy);
    const s = await start(busy, ['sleep', '30']);
    await crashed.create(`${PREFIX}empty`, { maxProcesses: 8, maxMemoryBytes: 64 << 20 });
    // Half-made: the crash came after the first mkdir.
    mkdirSync(join(manager.layout.pids!.mount, 'airlock', `${PREFIX}half`));

    const restarted = new CgroupManager(manager.layout);
    // An agent the restarted enforcer already started: its sweep must leave it alone.
    const mine = await agent(restarted);
    const first = await restarted.sweep();
    expect(first.removed).toEqual(expect.arrayContaining([`${PREFIX}empty`, `${PREFIX}half`]));
    expect(first.busy).toContain(`${PREFIX}busy`);
    expect(first.removed).not.toContain(mine.id);
    expect(isRunning(s.child.pid!)).toBe(true);
    expect(leftovers(manager, `${PREFIX}empty`)).toEqual([]);
    expect(leftovers(manager, `${PREFIX}half`)).toEqual([]);

    const second = await restarted.sweep({ kill: true });
    expect(second.removed).toContain(`${PREFIX}busy`);
    expect(await s.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(leftovers(manager, `${PREFIX}busy`)).toEqual([]);
    expect(second.removed).not.toContain(mine.id);
    for (const dir of mine.allDirs) expect(existsSync(dir)).toBe(true);
  });
});
