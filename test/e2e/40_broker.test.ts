/**
 * The BPF broker behind `airlock run` (root, real kernel, the built CLI):
 * concurrent runs share one loader, started once even when they all find
 * none; when the loader or the broker dies while an agent runs, the agent is
 * killed (it would no longer be audited) and the run says so (exit 36);
 * nothing is left behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock } from '../helpers/appliance.js';
import { agentCgroups, airlockPrograms, brokerProcesses, foreignLoaders, processes, RunFixture, waitFor } from '../helpers/enforcer-run.js';

const ENFORCER_FAILED = 36;
let fx: RunFixture;

beforeAll(async () => {
  fx = new RunFixture('e2e-broker');
  expect(foreignLoaders(), 'another BPF loader runs on this host').toEqual([]);
  await waitFor('an earlier broker to go', () => brokerProcesses().length === 0, 10_000);
});

afterAll(async () => {
  await waitFor('the broker to go', () => brokerProcesses().length === 0, 10_000).catch(() => undefined);
  fx?.cleanup();
});

function loaders(): number[] {
  return brokerProcesses().filter((p) => p.cmdline.includes('airlock-bpf')).map((p) => p.pid);
}

function sleepers(marker: string) {
  return processes().filter((p) => p.cmdline.startsWith('sleep') && p.cmdline.includes(marker));
}

describe('the BPF broker', () => {
  it('concurrent runs that all find no broker start exactly one loader and share it', async () => {
    const seen = new Set<number>();
    const sampler = setInterval(() => loaders().forEach((pid) => seen.add(pid)), 5);
    const runs = [0, 1, 2, 3].map(() => startAirlock(['run', '--json', '--policy', 'development', '--workspace', fx.workspace(), '--', '/bin/sleep', '1'], fx.env));
    const done = await Promise.all(runs.map((r) => r.done));
    clearInterval(sampler);
    for (const d of done) expect(d.code, d.stderr).toBe(0);
    expect(seen.size).toBe(1);
    expect(new Set(done.map((d) => d.json.agent)).size).toBe(4);
    // the next run finds it serving
    const warm = await fx.airlock(['run', '--json', '--policy', 'sandbox', '--workspace', fx.workspace(), '--', '/bin/true']);
    expect(warm.json).toMatchObject({ brokerWarm: true, endedBy: 'exit' });
    expect(warm.json.startMs).toBeLessThan(200);
  });

  it("an agent's last operations before it exits are all audited: what the loader drains at unregistering reaches the run", async () => {
    // Routine records sit in the ring buffer until the loader's next 50 ms tick; an agent that ends right
    // after an open leaves it there until remove-agent drains it, after its run has stopped waiting.
    const policy = fx.policy('audited', 'agent_policy:\n  extends: production\n  on_violation: deny\n');
    const missing: string[] = [];
    for (let i = 0; i < 10; i++) {
      const run = await fx.airlock(['run', '--json', '--policy', policy, '--workspace', fx.workspace(), '--', '/bin/cat', '/etc/host.conf']);
      expect(run.code, run.stderr).toBe(0);
      const opens = fx.events(run.json.agent).filter((e) => e.operation === 'open' && e.target === '/etc/host.conf');
      if (opens.length !== 1) missing.push(`${run.json.agent}: ${opens.length} open events of /etc/host.conf`);
    }
    expect(missing).toEqual([]);
  });

  for (const victim of ['loader', 'broker'] as const) {
    it(`the ${victim} dying mid-run ends the agent (exit 36) and leaves nothing behind`, async () => {
      const marker = victim === 'loader' ? '71.234' : '72.345';
      const run = startAirlock(['run', '--json', '--policy', 'development', '--workspace', fx.workspace(), '--', '/bin/sh', '-c', `setsid sleep ${marker} & sleep ${marker}`], fx.env);
      await waitFor('the agent to run', () => sleepers(marker).length === 2);
      const target = victim === 'loader' ? loaders()[0] : brokerProcesses().find((p) => p.cmdline.includes('bpf-broker/main.js'))?.pid;
      expect(target).toBeGreaterThan(0);
      process.kill(target!, 'SIGKILL');
      const done = await run.done;
      expect(done.code, done.stderr).toBe(ENFORCER_FAILED);
      expect(done.json).toMatchObject({ endedBy: 'enforcer', status: ENFORCER_FAILED });
      expect(sleepers(marker)).toEqual([]);
      expect(agentCgroups()).toEqual([]);
      await waitFor('broker and loader to be gone', () => brokerProcesses().length === 0, 10_000);
      await waitFor('the programs to be freed', () => airlockPrograms().length === 0, 5000);
      // and the next run starts a fresh broker
      const next = await fx.airlock(['run', '--json', '--policy', 'sandbox', '--workspace', fx.workspace(), '--', '/bin/true']);
      expect(next.json).toMatchObject({ endedBy: 'exit', brokerWarm: false });
    });
  }
});
