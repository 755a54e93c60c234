/**
 * Real cgroups, real kernel, as root: the process and memory budgets hold.
 * Every test checks that it leaves no cgroup behind.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CgroupManager, detectCgroupLayout, type AgentCgroup } from '../../services/enforcer/cgroups/index.js';
import { leftovers, startIn, waitFor } from './cgroups-helpers.js';

const PREFIX = `vt${process.pid}-budget-`;
let manager: CgroupManager;
const made: AgentCgroup[] = [];
let n = 0;

beforeAll(async () => {
  manager = new CgroupManager(await detectCgroupLayout());
});

afterEach(async () => {
  for (const cg of made.splice(0)) await cg.destroy().catch(() => undefined);
  expect(leftovers(manager, PREFIX)).toEqual([]);
});

async function agent(maxProcesses: number, maxMemoryMb: number): Promise<AgentCgroup> {
  const cg = await manager.create(`${PREFIX}${n++}`, { maxProcesses, maxMemoryBytes: maxMemoryMb * 1024 * 1024 });
  made.push(cg);
  return cg;
}

const FORK_BOMB = `
import errno, os, sys, time
forks = 0
while forks < 2000:
    try:
        pid = os.fork()
    except OSError as e:
        print("fork failed", errno.errorcode.get(e.errno), "after", forks, flush=True)
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    forks += 1
else:
    print("no limit", flush=True)
time.sleep(120)
`;

describe('process budget (max_processes)', () => {
  it('holds a fork bomb at the limit: fork fails with EAGAIN and pids.current never exceeds it', async () => {
    const LIMIT = 12;
    const cg = await agent(LIMIT, 256);
    const bomb = await startIn(cg, ['/usr/bin/python3', '-c', FORK_BOMB]);
    let highest = 0;
    let samples = 0;
    await waitFor('the bomb to hit the limit', async () => {
      highest = Math.max(highest, (await cg.usage()).pids.current);
      samples++;
      return bomb.output().includes('fork failed') || bomb.output().includes('no limit');
    });
    const usage = await cg.usage();
    expect(bomb.output()).toMatch(new RegExp(`fork failed EAGAIN after ${LIMIT - 1}\\b`));
    expect(samples).toBeGreaterThan(0);
    expect(highest).toBeLessThanOrEqual(LIMIT);
    expect(usage.pids.current).toBe(LIMIT);
    expect(usage.pids.max).toBe(LIMIT);
    if (usage.pids.peak !== undefined) expect(usage.pids.peak).toBe(LIMIT);
    expect(usage.pids.forkFailures).toBeGreaterThanOrEqual(1);
    await cg.destroy();
    expect(await bomb.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('memory budget (max_memory_mb)', () => {
  it('OOM-kills a memory hog at the limit (exit 137) and records the OOM kill', async () => {
    const cg = await agent(16, 64);
    // The shell survives (the hog is the biggest process) and reports the hog's status.
    const hog = await startIn(cg, ['/bin/sh', '-c', `/usr/bin/python3 -c 'b = []\nwhile True: b.append(b"x" * (4 << 20))'; echo "exit=$?"`]);
    expect(await hog.exited).toEqual({ code: 0, signal: null });
    expect(hog.output()).toBe('exit=137\n');
    expect(hog.errors()).toMatch(/Killed/);
    const usage = await cg.usage();
    expect(usage.memory.maxBytes).toBe(64 * 1024 * 1024);
    expect(usage.memory.oomKills).toBeGreaterThanOrEqual(1);
    expect(usage.memory.peakBytes).toBeGreaterThan(48 * 1024 * 1024);
    expect(usage.memory.peakBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it('lets a program within the budget finish', async () => {
    const cg = await agent(16, 64);
    const ok = await startIn(cg, ['/usr/bin/python3', '-c', 'b = b"x" * (16 << 20); print(len(b))']);
    expect(await ok.exited).toEqual({ code: 0, signal: null });
    expect(ok.output()).toBe(`${16 << 20}\n`);
    expect((await cg.usage()).memory.oomKills).toBe(0);
  });

  it('leaves no swap to escape into', async () => {
    const cg = await agent(4, 32);
    const v2 = manager.layout.memory!.version === 2;
    const file = join(cg.dirs.memory, v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes');
    // Without swap accounting in the kernel there is no such file and no swap limit to set.
    if (!existsSync(file)) return;
    expect(readFileSync(file, 'utf8').trim()).toBe(v2 ? '0' : String(32 * 1024 * 1024));
  });
});
