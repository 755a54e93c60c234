/**
 * `airlock run` end to end: the built CLI as root on the real kernel. The
 * allowed actions of each profile work; denials fail with EPERM/EACCES under
 * `deny` and end the agent under `kill`, each with its audit event naming the
 * layer; the timeout and the memory budget end the whole tree; `airlock
 * agents` shows a running agent; a missing layer refuses the run; crashes and
 * signals leave nothing behind; processes outside agents are never touched.
 * (The ≥ 40-case escape suite and the benchmarks build on this elsewhere.)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetns } from '../integration/bpf-helpers.js';
import { startAirlock } from '../helpers/appliance.js';
import { agentCgroups, airlockPrograms, brokerProcesses, foreignLoaders, processes, PYTHON, results, RunFixture, waitFor, type AgentRun } from '../helpers/enforcer-run.js';

const EXIT = { VIOLATION: 33, TIMEOUT: 34, MEMORY: 35, LAYER_UNAVAILABLE: 31, POLICY_REJECTED: 30, INTERRUPTED: 130, TERMINATED: 143 } as const;

let fx: RunFixture;
let loopback: Server;
let loopbackPort: number;

beforeAll(async () => {
  fx = new RunFixture('e2e-run');
  // (an agent killed mid-connection resets it)
  loopback = createServer((socket) => socket.on('error', () => undefined).end('hello from loopback'));
  await new Promise<void>((resolve) => loopback.listen({ host: '127.0.0.1', port: 0 }, resolve));
  loopbackPort = (loopback.address() as { port: number }).port;
});

afterAll(async () => {
  loopback?.close();
  fx?.cleanup();
});

/** The agent's own events of one kind. */
function eventsOf(run: AgentRun, filter: Record<string, unknown>): any[] {
  return fx.events(run.json.agent).filter((e) => Object.entries(filter).every(([k, v]) => e[k] === v));
}

/** The records of running agents under the prefix's run/agents/. */
function records(): string[] {
  const dir = join(fx.prefix, 'run', 'agents');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The agent's `sleep <marker>` processes (not the `airlock run` whose command line also names them). */
function sleepers(marker: string) {
  return processes().filter((p) => p.cmdline.startsWith('sleep') && p.cmdline.includes(marker));
}

function expectClean(run: AgentRun): void {
  expect(agentCgroups()).toEqual([]);
  expect(records()).toEqual([]);
  expect(processes().filter((p) => p.cmdline.includes(run.json.agent))).toEqual([]);
}

describe('sandbox', () => {
  it('reads the workspace, writes the workspace and its own /tmp; nothing is denied', async () => {
    const ws = fx.workspace();
    const scratch = `airlock-e2e-${process.pid}-${Date.now()}`;
    const run = await fx.probe('sandbox', ws, [
      { op: 'read', path: 'in.txt' },
      { op: 'write', path: 'out.txt', text: 'from the sandbox' },
      { op: 'write', path: `/tmp/${scratch}`, text: 'private' },
      { op: 'read', path: `/tmp/${scratch}` },
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(results(run)).toEqual(['input of the agent', 'ok', 'ok', 'private']);
    expect(run.json).toMatchObject({ endedBy: 'exit', exitCode: 0, signal: null, status: 0, violation: null, policy: { name: 'sandbox', onViolation: 'kill' } });
    expect(readFileSync(join(ws, 'out.txt'), 'utf8')).toBe('from the sandbox');
    expect(statSync(join(ws, 'out.txt')).uid).toBe(65534);
    expect(existsSync(`/tmp/${scratch}`)).toBe(false); // its /tmp was its own
    expect(eventsOf(run, { verdict: 'deny' })).toEqual([]);
    expect(eventsOf(run, { verdict: 'kill' })).toEqual([]);
    expect(eventsOf(run, { operation: 'run', verdict: 'allow', layer: 'enforcer' })).toHaveLength(1);
    expect(run.json.events).toBe(fx.events(run.json.agent).length);
    expectClean(run);
  });

  it('kill (its default): spawning ends the agent at once; seccomp reported it', async () => {
    const run = await fx.probe('sandbox', fx.workspace(), [
      { op: 'read', path: 'in.txt' },
      { op: 'spawn', argv: ['/bin/true'] },
      { op: 'write', path: 'after.txt' },
    ]);
    expect(run.code).toBe(EXIT.VIOLATION);
    expect(results(run)).toEqual(['input of the agent']);
    expect(run.done).toBe(false);
    expect(run.json).toMatchObject({ endedBy: 'violation', status: EXIT.VIOLATION, violation: { layer: 'seccomp', operation: 'spawn', rule: 'execution.spawn: false' } });
    const [denial] = eventsOf(run, { layer: 'seccomp', operation: 'spawn' });
    expect(denial).toMatchObject({ verdict: 'kill', pid: run.json.pid, policy: 'sandbox' });
    expect(denial.exe).toMatch(/python3/);
    expect(eventsOf(run, { operation: 'kill', verdict: 'kill' })).toHaveLength(1);
    expectClean(run);
  });

  it('deny: a read outside its paths fails with EACCES, Landlock reports it, the agent goes on', async () => {
    const policy = fx.policy('sandbox-deny', 'agent_policy:\n  extends: sandbox\n  on_violation: deny\n');
    const run = await fx.probe(policy, fx.workspace(), [
      { op: 'read', path: '/etc/hostname' },
      { op: 'write', path: '/var/tmp/escape' },
      { op: 'spawn', argv: ['/bin/true'] },
      { op: 'read', path: 'in.txt' },
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(results(run)).toEqual(['EACCES', 'EACCES', 'EPERM', 'input of the agent']);
    expect(run.json).toMatchObject({ endedBy: 'exit', violation: null });
    expect(eventsOf(run, { layer: 'landlock', operation: 'read', target: '/etc/hostname' })).toEqual([expect.objectContaining({ verdict: 'deny', rule: 'not granted: fs.read_file' })]);
    // (a create names the directory only: the kernel's record has no file name)
    expect(eventsOf(run, { layer: 'landlock', operation: 'create', target: '/var/tmp' })).toEqual([expect.objectContaining({ rule: 'not granted: fs.make_reg' })]);
    expect(eventsOf(run, { layer: 'seccomp', operation: 'spawn' }).map((e) => e.verdict)).toContain('deny');
    expect(eventsOf(run, { verdict: 'kill' })).toEqual([]);
    expect(existsSync('/var/tmp/escape')).toBe(false);
  });

  it('the audit file is out of reach: granting it (or a parent) is refused, opening it is denied', async () => {
    const granted = fx.policy('audit-grant', `agent_policy:\n  extends: production\n  filesystem:\n    read: ["${join(fx.prefix, 'var', 'audit')}"]\n`);
    const refused = await fx.airlock(['run', '--json', '--policy', granted, '--workspace', fx.workspace(), '--', '/bin/true']);
    expect(refused.code).toBe(EXIT.POLICY_REJECTED);
    expect(refused.json.error.code).toBe('POLICY_INVALID');
    const parent = fx.policy('prefix-grant', `agent_policy:\n  extends: production\n  filesystem:\n    read: ["${fx.root}"]\n`);
    expect((await fx.airlock(['run', '--json', '--policy', parent, '--workspace', fx.workspace(), '--', '/bin/true'])).json.error.code).toBe('POLICY_INVALID');

    const deny = fx.policy('sandbox-deny-2', 'agent_policy:\n  extends: sandbox\n  on_violation: deny\n');
    const run = await fx.probe(deny, fx.workspace(), [{ op: 'read', path: fx.auditFile }, { op: 'write', path: fx.auditFile }]);
    expect(results(run)).toEqual(['EACCES', 'EACCES']);
    const mode = statSync(fx.auditFile).mode & 0o777;
    expect(mode).toBe(0o600);
    expect(statSync(join(fx.prefix, 'var', 'audit')).mode & 0o777).toBe(0o700);
  });
});

describe('development', () => {
  it('spawns children and reaches a loopback server; nothing is denied', async () => {
    const run = await fx.probe('development', fx.workspace(), [
      { op: 'spawn', argv: ['/bin/sh', '-c', 'echo child; id -u'] },
      { op: 'tcp', host: '127.0.0.1', port: loopbackPort, recv: true },
      { op: 'write', path: 'built.txt' },
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(results(run)).toEqual([expect.stringMatching(/^child\n200\d{7}$/), 'hello from loopback', 'ok']); // its own uid, from the pool
    expect(fx.events(run.json.agent).filter((e) => e.verdict !== 'allow')).toEqual([]);
  });

  it('kill: a connection beyond loopback is killed in the kernel before connect() returns', async () => {
    const run = await fx.probe('development', fx.workspace(), [
      { op: 'tcp', host: '127.0.0.1', port: loopbackPort },
      { op: 'tcp', host: '192.0.2.1', port: 80 },
      { op: 'write', path: 'after.txt' },
    ]);
    expect(run.code).toBe(EXIT.VIOLATION);
    expect(results(run)).toEqual(['ok']);
    expect(run.json.violation).toMatchObject({ layer: 'ebpf', operation: 'connect', target: '192.0.2.1:80/tcp', kill: { layer: 'ebpf', inKernel: true } });
    expect(eventsOf(run, { layer: 'ebpf', operation: 'connect', target: '192.0.2.1:80/tcp' })).toEqual([expect.objectContaining({ verdict: 'kill', rule: 'deny_egress: *' })]);
    console.log(`kill after a denied connect: offender in the kernel, tree in ${run.json.violation.kill.latencyMs?.toFixed(2)} ms`);
  });

  it('kill: a Landlock denial (reading outside its paths) ends the tree, as reported by kernel audit', async () => {
    const run = await fx.probe('development', fx.workspace(), [{ op: 'spawn', argv: ['/bin/sh', '-c', 'sleep 30 & cat /etc/hostname; sleep 1; echo survived'] }]);
    expect(run.code).toBe(EXIT.VIOLATION);
    expect(run.stderr).not.toContain('survived');
    expect(run.json.violation).toMatchObject({ layer: 'landlock', operation: 'read', target: '/etc/hostname', kill: { layer: 'landlock' } });
    console.log(`kill after a Landlock denial: tree in ${run.json.violation.kill.latencyMs?.toFixed(2)} ms`);
    expectClean(run);
  });
});

describe('production', () => {
  let ns: TestNetns;
  let policy: string;

  beforeAll(async () => {
    ns = new TestNetns();
    await ns.up();
    policy = fx.policy('prod', `agent_policy:\n  extends: production\n  on_violation: deny\n  network:\n    allow_egress: ["tcp://${ns.ns4}:8080"]\n`);
  });

  afterAll(async () => {
    await ns?.down();
  });

  it('reaches the allowed address, and DNS goes to the resolver only; every operation is audited', async () => {
    const run = await fx.probe(
      policy,
      fx.workspace(),
      [
        { op: 'tcp', host: ns.ns4, port: 8080 },
        { op: 'udp', host: ns.ns4, port: 53 },
        { op: 'udp', host: ns.host4, port: 53 },
        { op: 'tcp', host: ns.ns4, port: 9090 },
        { op: 'tcp', host: '127.0.0.1', port: loopbackPort },
        { op: 'raw' },
        { op: 'read', path: '/etc/resolv.conf' },
      ],
      ['--resolver', `${ns.ns4}:53`],
    );
    expect(run.code, run.stderr).toBe(0);
    // TCP to an unlisted port stops at Landlock (ports: EACCES) before the eBPF programs (addresses: EPERM) see it.
    expect(results(run)).toEqual(['ok', 'ok', 'EPERM', 'EACCES', 'EACCES', 'EPERM', expect.any(String)]);
    const connect = (target: string) => eventsOf(run, { layer: 'ebpf', target });
    expect(connect(`${ns.ns4}:8080/tcp`)).toEqual([expect.objectContaining({ operation: 'connect', verdict: 'allow', rule: `allow_egress: tcp://${ns.ns4}:8080` })]);
    expect(connect(`${ns.ns4}:53/udp`)).toEqual([expect.objectContaining({ operation: 'send', verdict: 'allow', rule: 'network.dns' })]);
    expect(connect(`${ns.host4}:53/udp`)).toEqual([expect.objectContaining({ verdict: 'deny', rule: 'DNS goes only to the appliance resolver' })]);
    const landlock = (target: string) => eventsOf(run, { layer: 'landlock', operation: 'connect', target });
    expect(landlock(`${ns.ns4}:9090/tcp`)).toEqual([expect.objectContaining({ verdict: 'deny', rule: 'not granted: net.connect_tcp' })]);
    expect(landlock(`127.0.0.1:${loopbackPort}/tcp`)).toEqual([expect.objectContaining({ verdict: 'deny' })]);
    // raw sockets stop at seccomp (by its socket() arguments), before any eBPF hook
    expect(eventsOf(run, { layer: 'seccomp', operation: 'socket' })).toEqual([expect.objectContaining({ verdict: 'deny', target: 'socket' })]);
    // audit.allows: the exec of its program and its file opens are recorded too
    expect(eventsOf(run, { operation: 'exec', verdict: 'allow', target: PYTHON })).toHaveLength(1);
    expect(eventsOf(run, { operation: 'open', verdict: 'allow', target: '/etc/resolv.conf' }).length).toBeGreaterThan(0);
  });

  it('a process outside any agent is never denied while agents run', async () => {
    const agent = startAirlock(['run', '--json', '--policy', policy, '--workspace', fx.workspace(), '--resolver', `${ns.ns4}:53`, '--', '/bin/sleep', '5'], fx.env);
    await waitFor('the agent to run', () => records().length > 0 && agentCgroups().length > 0);
    const before = fx.events().length;
    const probe = join(fx.root, 'host-probe.py');
    writeFileSync(probe, readFileSync(new URL('../helpers/agent-probe.py', import.meta.url)));
    chmodSync(probe, 0o644);
    const ops = [
      { op: 'tcp', host: ns.ns4, port: 9090 },
      { op: 'udp', host: ns.host4, port: 53 },
      { op: 'raw' },
      { op: 'read', path: '/etc/hostname' },
      { op: 'spawn', argv: ['/bin/true'] },
    ];
    const asRoot = execFileSync(PYTHON, [probe, JSON.stringify(ops)], { encoding: 'utf8' });
    const asNobody = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', PYTHON, probe, JSON.stringify(ops)], { encoding: 'utf8' });
    const got = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'op' in l).map((l) => l.result);
    expect(got(asRoot)).toEqual(['ok', 'ok', 'ok', expect.any(String), '']);
    // (a raw socket needs CAP_NET_RAW: the kernel's own refusal, not ours)
    expect(got(asNobody)).toEqual(['ok', 'ok', 'EPERM', expect.any(String), '']);
    expect(fx.events().slice(before).filter((e) => e.verdict !== 'allow')).toEqual([]);
    const run = await agent.done;
    expect(run.code).toBe(0);
    expect(run.json.endedBy).toBe('exit');
  });
});

describe('budgets', () => {
  it('the timeout kills the whole tree, daemons in new sessions included', async () => {
    const policy = fx.policy('short', 'agent_policy:\n  extends: development\n  execution:\n    timeout_minutes: 0.02\n');
    const marker = '61.2345';
    const started = Date.now();
    const run = await fx.airlock(['run', '--json', '--policy', policy, '--workspace', fx.workspace(), '--', '/bin/sh', '-c', `sleep ${marker} & setsid sleep ${marker} & (sleep ${marker} &) ; sleep ${marker}`]);
    expect(run.code).toBe(EXIT.TIMEOUT);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(run.json).toMatchObject({ endedBy: 'timeout', signal: 'SIGKILL' });
    await waitFor('the sleepers to be gone', () => sleepers(marker).length === 0, 2000);
    expect(fx.events(run.json.agent).filter((e) => e.operation === 'timeout')).toEqual([expect.objectContaining({ verdict: 'kill', layer: 'cgroup', rule: 'execution.timeout_minutes (1 s)' })]);
  });

  it('the memory budget kills a hog (the kernel OOM killer, counted and audited)', async () => {
    const policy = fx.policy('small', 'agent_policy:\n  extends: sandbox\n  execution:\n    max_memory_mb: 48\n');
    const run = await fx.probe(policy, fx.workspace(), [{ op: 'alloc', mib: 200 }]);
    expect(run.code).toBe(EXIT.MEMORY);
    expect(run.json).toMatchObject({ endedBy: 'memory', signal: 'SIGKILL', usage: { maxMemoryBytes: 48 * 2 ** 20 } });
    expect(run.json.usage.oomKills).toBeGreaterThanOrEqual(1);
    expect(run.json.usage.memoryPeakBytes).toBeGreaterThan(40 * 2 ** 20);
    expect(eventsOf(run, { operation: 'memory', layer: 'cgroup', verdict: 'kill' })).toHaveLength(1);
  });

  it('forks past max_processes are refused (EAGAIN) and counted', async () => {
    const policy = fx.policy('few', 'agent_policy:\n  extends: development\n  execution:\n    max_processes: 4\n');
    const run = await fx.airlock(['run', '--json', '--policy', policy, '--workspace', fx.workspace(), '--', '/bin/sh', '-c', 'for i in 1 2 3 4 5 6; do sleep 2 & done; wait']);
    expect(run.stderr).toContain('Cannot fork');
    expect(run.json).toMatchObject({ endedBy: 'exit', exitCode: 2 }); // dash gives up when fork fails
    expect(run.json.usage.forkFailures).toBeGreaterThan(0);
    expect(run.json.usage.pidsPeak).toBeLessThanOrEqual(4);
    expect(eventsOf(run as AgentRun, { operation: 'spawn', layer: 'cgroup', verdict: 'deny', rule: 'execution.max_processes: 4' })).toHaveLength(1);
  });
});

describe('airlock agents', () => {
  it('lists a running agent with its budgets and usage; SIGTERM of the run ends it and cleans up', async () => {
    const ws = fx.workspace();
    const run = startAirlock(['run', '--json', '--policy', 'development', '--workspace', ws, '--', '/bin/sh', '-c', 'sleep 30 & sleep 30'], fx.env);
    let listed: any;
    await waitFor('the agent to be listed', async () => {
      listed = (await fx.airlock(['agents', '--json'])).json;
      return listed.agents.length === 1 && listed.agents[0].usage?.pids === 3;
    });
    const [agent] = listed.agents;
    expect(agent).toMatchObject({
      policy: { name: 'development', onViolation: 'kill' },
      command: ['/bin/sh', '-c', 'sleep 30 & sleep 30'],
      workspace: ws,
      budgets: { maxProcesses: 256, maxMemoryBytes: 2048 * 2 ** 20, timeoutSeconds: 7200 },
      run: { pid: run.child.pid },
    });
    expect(agent.pid).toBeGreaterThan(0);
    expect(agent.usage.memoryBytes).toBeGreaterThan(0);
    expect(agent.usage.pidsPeak).toBeGreaterThanOrEqual(3);
    run.child.kill('SIGTERM');
    const done = await run.done;
    expect(done.code).toBe(EXIT.TERMINATED);
    expect(done.json).toMatchObject({ agent: agent.id, endedBy: 'interrupted', status: EXIT.TERMINATED });
    expect((await fx.airlock(['agents', '--json'])).json.agents).toEqual([]);
    expect(agentCgroups()).toEqual([]);
  });

  it('after `airlock run` is SIGKILLed, the broker ends its agent and the next listing removes the leftovers', async () => {
    const marker = '62.345';
    const run = startAirlock(['run', '--policy', 'development', '--workspace', fx.workspace(), '--', '/bin/sh', '-c', `setsid sleep ${marker} & sleep ${marker}`], fx.env);
    await waitFor('the agent to run', () => sleepers(marker).length === 2);
    run.child.kill('SIGKILL');
    await run.done;
    await waitFor('the broker to kill its tree', () => sleepers(marker).length === 0, 3000);
    expect(records()).toHaveLength(1); // the dead run's record
    const listing = (await fx.airlock(['agents', '--json'])).json;
    expect(listing.agents).toEqual([]);
    expect(listing.cleaned).toHaveLength(1);
    expect(records()).toEqual([]);
    expect(agentCgroups()).toEqual([]);
  });

  it('SIGINT of `airlock run` kills the tree and exits 130', async () => {
    const marker = '63.456';
    const run = startAirlock(['run', '--json', '--policy', 'development', '--workspace', fx.workspace(), '--', '/bin/sh', '-c', `sleep ${marker} & sleep ${marker}`], fx.env);
    await waitFor('the agent to run', () => sleepers(marker).length === 2);
    run.child.kill('SIGINT');
    const done = await run.done;
    expect(done.code).toBe(EXIT.INTERRUPTED);
    expect(done.json).toMatchObject({ endedBy: 'interrupted', status: EXIT.INTERRUPTED });
    expect(sleepers(marker)).toEqual([]);
    expect(agentCgroups()).toEqual([]);
  });
});

describe('refusal', () => {
  let oldLauncher: string;

  beforeAll(() => {
    // TEST-ONLY: a launcher that reports Landlock ABI 5 (as on Linux 6.10) and otherwise is the real one.
    const real = join(process.cwd(), 'services/enforcer/native/build/airlock-launch');
    oldLauncher = join(fx.root, 'old-launcher');
    writeFileSync(oldLauncher, `#!/bin/sh\nif [ "$1" = --probe ]; then echo '{"landlock":{"abi":5},"seccomp":{"available":true},"mmapMinAddr":65536}'; exit 0; fi\nexec ${real} "$@"\n`);
    chmodSync(oldLauncher, 0o755);
  });

  it('a host whose Landlock ABI is too low runs nothing (AIRLOCK_LAUNCHER pointing at a launcher reporting ABI 5)', async () => {
    const ws = fx.workspace();
    const before = readdirSync(ws);
    const run = await fx.airlock(['run', '--json', '--policy', 'sandbox', '--workspace', ws, '--', '/bin/true'], { AIRLOCK_LAUNCHER: oldLauncher });
    expect(run.code).toBe(EXIT.LAYER_UNAVAILABLE);
    expect(run.json.error).toMatchObject({ code: 'ENFORCER_LAYER_UNAVAILABLE', details: { layers: [expect.objectContaining({ layer: 'landlock' })] } });
    expect(run.json.error.hint).toMatch(/never runs with a layer missing/);
    expect(readdirSync(ws)).toEqual(before);
    expect(agentCgroups()).toEqual([]);
    expect(records()).toEqual([]);
    const refusal = fx.events().at(-1);
    expect(refusal).toMatchObject({ operation: 'run', verdict: 'deny', layer: 'enforcer', rule: 'ENFORCER_LAYER_UNAVAILABLE' });
  });

  it('doctor reports each layer as probed, and fails the Landlock check on that host', async () => {
    const real = await fx.airlock(['doctor', '--json']);
    const check = (report: any, id: string) => report.checks.find((c: { id: string }) => c.id === id);
    expect(check(real.json, 'landlock.abi')).toMatchObject({ status: 'pass', message: expect.stringContaining('Landlock ABI 7') });
    for (const id of ['seccomp.filter', 'seccomp.exec-gate', 'ebpf.cgroup_sock_addr', 'ebpf.cgroup_sock_create', 'ebpf.tp_btf', 'ebpf.btf', 'ebpf.ringbuf', 'kaudit.available']) {
      expect(check(real.json, id)?.status, id).toBe('pass');
    }
    // KERNEL-NOTES: this VM's kernel refuses BPF LSM programs at load
    expect(check(real.json, 'ebpf.lsm')).toMatchObject({ status: 'warn', message: expect.stringContaining('Operation not permitted') });

    const old = await fx.airlock(['doctor', '--json'], { AIRLOCK_LAUNCHER: oldLauncher });
    expect(old.code).toBe(25);
    expect(check(old.json, 'landlock.abi')).toMatchObject({ status: 'fail', message: expect.stringContaining('Landlock ABI 5') });
  });
});

describe('after every run', () => {
  it('leaves no cgroup, no broker or loader process, no BPF program, no socket', async () => {
    expect(foreignLoaders(), 'another BPF loader runs on this host: the check below would be meaningless').toEqual([]);
    // The broker lingers a few seconds so that back-to-back runs start warm; then it unloads everything.
    await waitFor('the broker and its loader to exit', () => brokerProcesses().length === 0, 10_000);
    await waitFor('the programs to be freed', () => airlockPrograms().length === 0, 5000);
    expect(agentCgroups()).toEqual([]);
    expect(existsSync('/run/airlock/enforcer-bpf.sock')).toBe(false);
    expect(records()).toEqual([]);
    const workspaces = join(fx.prefix, 'var', 'workspaces');
    expect(existsSync(workspaces) ? readdirSync(workspaces) : []).toEqual([]);
  });
});
