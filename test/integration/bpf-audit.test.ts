/**
 * The audit side on the real kernel (root; `make -C bpf` first): the tracked
 * process tree (spawn, exec, exit), file opens while an agent audits allows,
 * denials of the other layers (Landlock, seccomp) from the kernel audit
 * subsystem, and on_violation: kill ending the whole tree.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfLoader, type BpfEvent, type LoaderEvent } from '../../services/enforcer/bpf/index.js';
import type { CompiledPolicy } from '../../services/enforcer/policy/index.js';
import { isRunning, loadedPrograms, NETPROBE, noOtherLoaders, OUR_PROGRAMS, PYTHON, recorder, removeTestParent, rule, startBlocked, TestCgroup, testPolicy, waitFor, type Started } from './bpf-helpers.js';

const FIXTURES = resolve(__dirname, 'bpf-fixtures');
let bin: string;
let loader: BpfLoader;
let rec: ReturnType<typeof recorder>;
const agents: Array<{ id: string; cg: TestCgroup }> = [];
let n = 0;

beforeAll(async () => {
  bin = mkdtempSync(join(tmpdir(), 'airlock-bpf-audit-'));
  for (const f of ['landlock-deny', 'seccomp-deny']) execFileSync('cc', ['-Wall', '-Werror', '-o', join(bin, f), join(FIXTURES, `${f}.c`)]);
  await noOtherLoaders(); // this file's loader is the audit daemon (the two-loader test relies on it)
  loader = await BpfLoader.start();
  rec = recorder(loader);
});

afterEach(async () => {
  for (const { id, cg } of agents.splice(0)) {
    await loader.removeAgent(id).catch(() => undefined);
    await cg.destroy();
  }
  rec.events.length = 0;
});

afterAll(async () => {
  rec?.stop();
  await loader?.close();
  rmSync(bin, { recursive: true, force: true });
  expect(removeTestParent()).toEqual([]);
  // programs are freed a moment after their last reference goes
  await waitFor('our programs to be unloaded', () => !loadedPrograms().some((p) => OUR_PROGRAMS.includes(p)), 5000);
});

/** Registers an agent and starts argv in it, tracked from before its first exec. */
async function run(policy: CompiledPolicy, argv: string[], options: { mountNamespace?: boolean } = {}): Promise<{ id: string; cg: TestCgroup; proc: Started }> {
  const id = `audit-${process.pid}-${n++}`;
  const cg = TestCgroup.create('audit');
  agents.push({ id, cg });
  await loader.addAgent(id, cg.path, policy);
  const proc = await startBlocked(cg, argv, options);
  await loader.trackPid(id, proc.pid);
  proc.go();
  return { id, cg, proc };
}

function bpfEvents(id: string): BpfEvent[] {
  return rec.events.flatMap((e) => (e.kind === 'bpf' && e.agentId === id ? [e.event] : []));
}

function of<K extends LoaderEvent['kind']>(kind: K, id: string): Array<Extract<LoaderEvent, { kind: K }>> {
  return rec.events.filter((e): e is Extract<LoaderEvent, { kind: K }> => e.kind === kind && 'agentId' in e && e.agentId === id);
}

const killPolicy = (extra: Partial<CompiledPolicy> = {}) => testPolicy({ allow: [rule('127.0.0.0/8')] }, { onViolation: 'kill', ...extra });

/** sh keeps a sleeping child and runs the violator: the whole tree must die. */
const tree = (violator: string[]) => ['/bin/sh', '-c', 'sleep 30 & "$@"; echo survived; wait', 'tree', ...violator];

describe('process tree', () => {
  it('reports spawn, exec and exit of the registered process and its descendants, and nothing of others', async () => {
    const { id, proc } = await run(testPolicy({}), ['/bin/sh', '-c', '/bin/true; /bin/sleep 0.05 & wait; exit 3']);
    await proc.exited;
    await waitFor('the exit of the tracked process', () => bpfEvents(id).some((e) => e.type === 'exit' && e.pid === proc.pid));
    const events = bpfEvents(id);
    const execs = events.filter((e) => e.type === 'exec');
    const spawns = events.filter((e) => e.type === 'spawn');
    expect(execs[0]).toMatchObject({ pid: proc.pid, filename: '/bin/sh' });
    expect(spawns.map((s) => s.pid)).toEqual([proc.pid, proc.pid]);
    const children = spawns.map((s) => (s.type === 'spawn' ? s.child : 0));
    expect(execs.map((e) => [e.pid, e.type === 'exec' && e.filename])).toEqual([
      [proc.pid, '/bin/sh'],
      [children[0], '/bin/true'],
      [children[1], '/bin/sleep'],
    ]);
    expect(execs[1]).toMatchObject({ type: 'exec', ppid: proc.pid });
    const exits = events.filter((e) => e.type === 'exit');
    expect(exits.map((e) => e.pid).sort()).toEqual([...children, proc.pid].sort());
    expect(exits.find((e) => e.pid === proc.pid)).toMatchObject({ exitCode: 3, signal: 0 });

    // an untracked process elsewhere produces nothing
    const before = rec.events.length;
    execFileSync('/bin/true');
    await new Promise((r) => setTimeout(r, 150));
    expect(rec.events.slice(before).filter((e) => e.kind === 'bpf')).toEqual([]);
    expect((await loader.ping()).tracked).toBe(0);
  });
});

describe('file opens', () => {
  it('are audited while an agent audits allows, through marks on its own mounts: only that agent is reported, with the paths it opened', async () => {
    expect((await loader.ping()).openAudit).toBe(false);
    const script = 'import os\nfor p in ["/nonexistent-airlock", "/etc/hostname"]:\n  try: open(p).close()\n  except OSError: pass\n';
    const quiet = await run(testPolicy({}), [PYTHON, '-c', script], { mountNamespace: true });
    const loud = await run(testPolicy({}, { audit: { allows: true } }), [PYTHON, '-c', script], { mountNamespace: true });
    expect((await loader.ping()).openAudit).toBe(true);
    await Promise.all([quiet.proc.exited, loud.proc.exited]);
    await waitFor('the open events', () => bpfEvents(loud.id).some((e) => e.type === 'open' && e.path === '/etc/hostname'));
    const opens = bpfEvents(loud.id).filter((e) => e.type === 'open');
    expect(opens.find((e) => e.path === '/etc/hostname')).toMatchObject({ pid: loud.proc.pid, comm: 'python3', ret: 0 });
    expect(opens.some((e) => e.path === PYTHON || e.path.startsWith('/usr/lib/'))).toBe(true); // the interpreter's own files too
    expect(opens.some((e) => e.path === '/nonexistent-airlock')).toBe(false); // a failed open is no allow
    expect(bpfEvents(quiet.id).filter((e) => e.type === 'open')).toEqual([]);
    await loader.removeAgent(loud.id);
    agents.splice(agents.findIndex((a) => a.id === loud.id), 1);
    await loud.cg.destroy();
    expect((await loader.ping()).openAudit).toBe(false);
  });

  it('each distinct open is reported; the same open repeated while queued is merged by the kernel', async () => {
    const dir = join(bin, 'opens');
    mkdirSync(dir);
    const names = Array.from({ length: 300 }, (_, i) => `f${i}`);
    for (const name of names) writeFileSync(join(dir, name), '');
    const script = `import os\nfor n in ${JSON.stringify(names)}: open(os.path.join(${JSON.stringify(dir)}, n)).close()\nfor i in range(5000): open("/etc/hostname").close()\n`;
    const loud = await run(testPolicy({}, { audit: { allows: true } }), [PYTHON, '-c', script], { mountNamespace: true });
    expect((await loud.proc.exited).code).toBe(0);
    await loader.removeAgent(loud.id); // drains what is still queued
    agents.splice(agents.findIndex((a) => a.id === loud.id), 1);
    await loud.cg.destroy();
    const paths = bpfEvents(loud.id).flatMap((e) => (e.type === 'open' ? [e.path] : []));
    expect(names.filter((name) => !paths.includes(join(dir, name)))).toEqual([]);
    const repeated = paths.filter((p) => p === '/etc/hostname').length;
    expect(repeated).toBeGreaterThanOrEqual(1);
    expect(repeated).toBeLessThan(5000);
    console.log(`5000 opens of one file: ${repeated} records`);
  });

  it("are refused for a process that shares the host's mount namespace: watching its mounts would audit the whole host", async () => {
    const id = `audit-${process.pid}-${n++}`;
    const cg = TestCgroup.create('audit');
    agents.push({ id, cg });
    await loader.addAgent(id, cg.path, testPolicy({}, { audit: { allows: true } }));
    const proc = await startBlocked(cg, ['/bin/true']);
    await expect(loader.trackPid(id, proc.pid)).rejects.toMatchObject({ code: 'BPF_ATTACH', message: expect.stringContaining("host's mount namespace") });
    expect((await loader.ping()).openAudit).toBe(false);
    proc.go();
    await proc.exited;
  });
});

describe('on_violation: kill', () => {
  it('a denied connect: the process is killed in the kernel before connect returns, the tree through cgroup.kill', async () => {
    const { id, cg, proc } = await run(killPolicy(), tree([PYTHON, NETPROBE, JSON.stringify([{ op: 'tcp', host: '192.0.2.1', port: 80 }])]));
    const { signal } = await proc.exited;
    expect(signal).toBe('SIGKILL');
    await waitFor('the tree to be gone', () => cg.procs().length === 0, 2000);
    expect(proc.output()).not.toContain('survived');
    expect(proc.output()).not.toContain('results'); // the client never saw connect() return
    await waitFor('the killed event', () => of('killed', id).length > 0);
    const killed = of('killed', id)[0]!;
    expect(killed).toMatchObject({ reason: 'connect', inKernel: true, cgroupKill: true });
    const denial = bpfEvents(id).find((e) => e.type === 'connect');
    expect(denial).toMatchObject({ verdict: 'deny', killed: true, address: '192.0.2.1', port: 80, pid: killed.pid });
    console.log(`kill after a denied connect: offender in kernel, tree in ${(killed.latencyNs / 1e6).toFixed(3)} ms`);
  });

  it('under deny, the connect fails with EPERM and the agent goes on', async () => {
    const { id, cg, proc } = await run(testPolicy({}), tree([PYTHON, NETPROBE, JSON.stringify([{ op: 'tcp', host: '192.0.2.1', port: 80 }])]));
    await waitFor('the client to finish', () => proc.output().includes('survived'));
    expect(proc.output()).toContain('"results": ["EPERM"]');
    expect(of('killed', id)).toEqual([]);
    cg.kill(); // the shell and its sleeping child
    expect((await proc.exited).signal).toBe('SIGKILL');
  });

  it('a Landlock denial, reported through kernel audit, ends the tree', async () => {
    expect(loader.ready.kaudit).not.toBe('off');
    const { id, cg, proc } = await run(killPolicy(), tree([join(bin, 'landlock-deny'), '/etc/hostname', '10']));
    const { signal } = await proc.exited;
    expect(signal).toBe('SIGKILL');
    await waitFor('the tree to be gone', () => cg.procs().length === 0, 2000);
    // (the kill may even come before the helper prints "denied": the record proves the denial)
    expect(proc.output()).not.toContain('survived');
    // the loader kills first and reports after: wait for its lines
    await waitFor('the killed event', () => of('killed', id).length > 0);
    const audit = of('kaudit', id);
    expect(audit[0]).toMatchObject({ layer: 'landlock', type: 1423, denied: true });
    expect(audit[0]!.record).toContain('blockers=fs.read_file');
    expect(audit[0]!.record).toContain('path="/etc/hostname"');
    const killed = of('killed', id)[0]!;
    expect(killed).toMatchObject({ reason: 'landlock', inKernel: false, cgroupKill: true });
    console.log(`kill after a Landlock denial: ${(killed.latencyNs / 1e6).toFixed(1)} ms (audit timestamps have ms resolution)`);
  });

  it('remove-agent answers only once the kernel audit records logged before it are in: a denial just before the end is never lost', async () => {
    for (let i = 0; i < 10; i++) {
      const { id, cg, proc } = await run(testPolicy({}), [join(bin, 'landlock-deny'), '/etc/hostname', '10']);
      // the moment the helper says so (not a polling interval later)
      await new Promise<void>((resolve) => {
        const check = (): void => (proc.output().includes('denied') ? resolve() : void proc.child.stdout!.once('data', () => setImmediate(check)));
        check();
      });
      await loader.removeAgent(id); // at once: the record is still on its way from the kernel's audit thread
      agents.splice(agents.findIndex((a) => a.id === id), 1);
      await cg.destroy();
      expect(of('kaudit', id).map((e) => e.layer), `run ${i}`).toEqual(['landlock']);
    }
  });

  it('a seccomp kill ends the rest of the tree; a logged seccomp denial under deny is reported and the agent goes on', async () => {
    const killing = await run(killPolicy(), tree([join(bin, 'seccomp-deny'), 'kill', '10']));
    expect((await killing.proc.exited).signal).toBe('SIGKILL');
    await waitFor('the tree to be gone', () => killing.cg.procs().length === 0, 2000);
    await waitFor('the killed event', () => of('killed', killing.id).length > 0);
    expect(of('kaudit', killing.id)[0]).toMatchObject({ layer: 'seccomp', type: 1326, denied: true });
    expect(of('kaudit', killing.id)[0]!.record).toContain('syscall=110');
    expect(of('killed', killing.id)[0]).toMatchObject({ reason: 'seccomp' });

    const denying = await run(testPolicy({}), [join(bin, 'seccomp-deny'), 'errno', '0']);
    expect((await denying.proc.exited).code).toBe(0);
    expect(denying.proc.output()).toContain('getppid -1 errno 1');
    expect(denying.proc.output()).toContain('survived');
    await waitFor('the seccomp record', () => of('kaudit', denying.id).length > 0);
    expect(of('kaudit', denying.id)[0]).toMatchObject({ layer: 'seccomp', denied: true, pid: denying.proc.pid });
    expect(of('killed', denying.id)).toEqual([]);
  });

  it('a Landlock denial of a process outside every agent is not ours: nobody is killed', async () => {
    const outside = await startBlocked(undefined, [join(bin, 'landlock-deny'), '/etc/hostname', '0']);
    outside.go();
    expect((await outside.exited).code).toBe(0);
    expect(outside.output()).toContain('survived');
    await new Promise((r) => setTimeout(r, 200));
    expect(rec.events.filter((e) => e.kind === 'kaudit' || e.kind === 'killed')).toEqual([]);
    expect(isRunning(process.pid)).toBe(true);
  });
});

describe('two loaders at once', () => {
  it('a Landlock denial still ends the agent after the loader that was the audit daemon stops, reported once before and after the other takes over', async () => {
    const second = await BpfLoader.start();
    expect(second.ready.kaudit).toBe('multicast');
    // this file's loader (the audit daemon) stops; the second serves from now on
    rec.stop();
    await loader.close();
    loader = second;
    rec = recorder(second);
    for (const phase of ['right after', 'after the takeover']) {
      if (phase === 'after the takeover') await waitFor('the takeover', async () => (await loader.ping()).kaudit === 'daemon', 3000);
      const { id, proc } = await run(killPolicy(), [join(bin, 'landlock-deny'), '/etc/hostname', '10']);
      expect((await proc.exited).signal, phase).toBe('SIGKILL');
      await waitFor('the killed event', () => of('killed', id).length > 0);
      await new Promise((r) => setTimeout(r, 100)); // a record that came twice would be here by now
      expect(of('kaudit', id).map((e) => e.type), phase).toEqual([1423]);
    }
  });
});

describe('pathname UNIX sockets', () => {
  const probe = [
    'import errno, json, socket, sys',
    'res = []',
    'for kind, p in zip(sys.argv[1::2], sys.argv[2::2]):',
    '  s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if kind == "send" else socket.SOCK_STREAM)',
    '  a = "\\0" + p[1:] if p.startswith("@") else p',
    '  try:',
    '    s.sendto(b"x", a) if kind == "send" else s.connect(a)',
    '    res.append("ok")',
    '  except OSError as e: res.append(errno.errorcode[e.errno])',
    'print(json.dumps(res), flush=True)',
  ].join('\n');
  let server: Server;
  let socketPath: string;

  beforeAll(async () => {
    socketPath = join(bin, 'host.sock');
    server = createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(socketPath, r));
    chmodSync(socketPath, 0o777); // any uid may connect: the fence must not rest on permissions
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('under deny: a host socket is refused (EPERM) and reported; name-service probes and abstract addresses pass through', async () => {
    const args = ['connect', socketPath, 'send', join(bin, 'nothing.sock'), 'connect', '/var/run/nscd/socket', 'connect', `@airlock-test-${process.pid}`];
    const { id, proc } = await run(testPolicy({}), [PYTHON, '-c', probe, ...args]);
    expect((await proc.exited).code).toBe(0);
    // ENOENT and ECONNREFUSED: looked up as without the fence (nothing listens there)
    expect(JSON.parse(proc.output())).toEqual(['EPERM', 'EPERM', 'ENOENT', 'ECONNREFUSED']);
    await waitFor('the denials', () => bpfEvents(id).filter((e) => e.type === 'unix').length >= 2);
    const unix = bpfEvents(id).filter((e) => e.type === 'unix');
    expect(unix).toHaveLength(2);
    expect(unix[0]).toMatchObject({ hook: 'connect_unix', verdict: 'deny', reason: 'unix-path', path: socketPath, pid: proc.pid, killed: false });
    expect(unix[1]).toMatchObject({ hook: 'sendmsg_unix', path: join(bin, 'nothing.sock') });
  });

  it('under kill: the connect ends the tree', async () => {
    const { id, cg, proc } = await run(killPolicy(), tree([PYTHON, '-c', probe, 'connect', socketPath]));
    expect((await proc.exited).signal).toBe('SIGKILL');
    await waitFor('the tree to be gone', () => cg.procs().length === 0, 2000);
    expect(proc.output()).not.toContain('survived');
    await waitFor('the killed event', () => of('killed', id).length > 0);
    expect(of('killed', id)[0]).toMatchObject({ reason: 'unix', cgroupKill: true });
  });

  it('a process outside every agent connects as usual', async () => {
    const outside = await startBlocked(undefined, [PYTHON, '-c', probe, 'connect', socketPath]);
    outside.go();
    expect((await outside.exited).code).toBe(0);
    expect(JSON.parse(outside.output())).toEqual(['ok']);
  });
});
