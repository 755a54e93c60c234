/**
 * The sweep of stale agents (root, real kernel, the built CLI): agent cgroups
 * are host-wide, records per install prefix, and every `airlock run` and
 * `airlock agents` sweeps. Only what is provably stale goes: a running agent
 * of another prefix, or one whose run starts while another prefix sweeps,
 * is never touched; the cgroups of a run that died are killed and removed
 * whichever prefix it belonged to; a cgroup nobody claims is removed only
 * when nothing runs in it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_CLAIMS_DIR, AgentClaims } from '../../services/enforcer/agent-sweep.js';
import { CgroupManager, detectCgroupLayout, type AgentCgroup } from '../../services/enforcer/cgroups/index.js';
import { startAirlock } from '../helpers/appliance.js';
import { agentCgroups, RunFixture, waitFor } from '../helpers/enforcer-run.js';

let a: RunFixture;
let b: RunFixture;
let cgroups: CgroupManager;
const sleepers: ChildProcess[] = [];
const made: AgentCgroup[] = [];

beforeAll(async () => {
  a = new RunFixture('e2e-sweep-a');
  b = new RunFixture('e2e-sweep-b');
  cgroups = new CgroupManager(await detectCgroupLayout());
});

afterAll(async () => {
  for (const s of sleepers) s.kill('SIGKILL');
  for (const cg of made) await cg.destroy().catch(() => undefined);
  a?.cleanup();
  b?.cleanup();
});

/** An agent cgroup made by hand, a `sleep` in it unless `empty`; its id. */
async function leftover(tag: string, empty = false): Promise<{ id: string; cg: AgentCgroup; sleeper?: ChildProcess }> {
  const id = `sweep-${tag}-${process.pid}`;
  const cg = await cgroups.create(id, { maxProcesses: 8, maxMemoryBytes: 64 * 2 ** 20 });
  made.push(cg);
  if (empty) return { id, cg };
  const sleeper = spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
  sleepers.push(sleeper);
  await new Promise((r) => sleeper.once('spawn', r));
  await cg.addProcess(sleeper.pid!);
  return { id, cg, sleeper };
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const claimFile = (id: string) => join(AGENT_CLAIMS_DIR, id);

describe('the sweep', () => {
  it('kills and removes the agent of a dead run of any prefix; leaves a live run’s agent and an unclaimed busy cgroup alone; removes an unclaimed empty one', async () => {
    const dead = await leftover('dead');
    const live = await leftover('live');
    const unclaimedBusy = await leftover('unclaimed');
    const unclaimedEmpty = await leftover('empty', true);
    // a run alive on this host, under no prefix these commands know: this very process
    const ours = await new AgentClaims().claim(live.id);
    // a run that died: a pid that no longer exists
    const gone = spawnSync('/bin/true').pid!;
    writeFileSync(claimFile(dead.id), `${JSON.stringify({ pid: gone, startTicks: 1 })}\n`);

    const listing = await b.airlock(['agents', '--json']);
    expect(listing.code, listing.stderr).toBe(0);
    expect(listing.json.agents).toEqual([]);

    await waitFor('the dead run’s sleeper to be killed', () => !alive(dead.sleeper!), 3000);
    expect(existsSync(claimFile(dead.id))).toBe(false);
    expect(alive(live.sleeper!)).toBe(true);
    expect(alive(unclaimedBusy.sleeper!)).toBe(true);
    const left = agentCgroups().map((d) => d.split('/').at(-1));
    expect(left).not.toContain(dead.id);
    expect(left).not.toContain(unclaimedEmpty.id);
    expect(left).toContain(live.id);
    expect(left).toContain(unclaimedBusy.id);

    await ours.release();
    expect(existsSync(claimFile(live.id))).toBe(false);
    // released while its tree still runs: not provably dead, so it stays until it is empty
    await a.airlock(['agents', '--json']);
    expect(alive(live.sleeper!)).toBe(true);
  });

  it('an agent of another prefix runs on while that prefix sweeps, again and again', async () => {
    const marker = '81.2345';
    const run = startAirlock(['run', '--json', '--policy', 'development', '--workspace', a.workspace(), '--', '/bin/sh', '-c', `sleep 1.5; echo ${marker}`], a.env);
    const records = join(a.prefix, 'run', 'agents');
    await waitFor('the agent to run', () => existsSync(records) && readdirSync(records).some((n) => n.endsWith('.json')));
    for (let i = 0; i < 3; i++) {
      expect((await b.airlock(['agents', '--json'])).code).toBe(0);
      expect((await b.airlock(['run', '--json', '--policy', 'sandbox', '--workspace', b.workspace(), '--', '/bin/true'])).code).toBe(0);
    }
    const done = await run.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toContain(marker);
  });

  it('runs that start while another prefix sweeps in a loop all run', async () => {
    let sweeping = true;
    let sweeps = 0;
    const sweeper = (async () => {
      while (sweeping) {
        await b.airlock(['agents', '--json']);
        sweeps++;
      }
    })();
    const failed: string[] = [];
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all(Array.from({ length: 4 }, () => a.airlock(['run', '--json', '--policy', 'sandbox', '--workspace', a.workspace(), '--', '/bin/true'])));
      for (const r of runs) if (r.code !== 0) failed.push(`exit ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
    }
    sweeping = false;
    await sweeper;
    expect(sweeps).toBeGreaterThan(2);
    expect(failed).toEqual([]);
  });
});
