/**
 * The loader process itself (root; `make -C bpf` first): its line protocol
 * survives bad input, failures come back as typed errors, it cleans up on
 * SIGTERM and end of input, and if it dies without cleaning up the agents
 * stay fenced in until a new loader takes over.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfLoader, defaultLoaderPath, egressTables, probeBpf } from '../../services/enforcer/bpf/index.js';
import { loadedPrograms, noOtherLoaders, OUR_PROGRAMS, probe, removeTestParent, rule, TestCgroup, testPolicy, waitFor } from './bpf-helpers.js';

const LOADER = defaultLoaderPath();
const cgroups: TestCgroup[] = [];

afterEach(async () => {
  for (const cg of cgroups.splice(0)) await cg.destroy();
});

// The life-cycle tests compare the host's audit settings before and after.
beforeAll(noOtherLoaders);

afterAll(async () => {
  expect(removeTestParent()).toEqual([]);
  await waitFor('our programs to be unloaded', () => !loadedPrograms().some((p) => OUR_PROGRAMS.includes(p)), 5000);
});

function cgroup(): TestCgroup {
  const cg = TestCgroup.create('loader');
  cgroups.push(cg);
  return cg;
}

/** Names of the programs attached to a cgroup directory. */
function attached(path: string): string[] {
  const out = execFileSync('bpftool', ['cgroup', 'show', path, '--json'], { encoding: 'utf8' }).trim();
  return out ? (JSON.parse(out) as Array<{ name: string }>).map((p) => p.name).sort() : [];
}

/** The loader without the client: raw lines in, parsed lines out. */
function raw() {
  const child = spawn(LOADER, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return {
    child,
    lines,
    exited,
    send: (line: string) => child.stdin.write(`${line}\n`),
    reply: async (seq: number) => {
      await waitFor(`reply ${seq}`, () => lines.some((l) => l.seq === seq));
      return lines.find((l) => l.seq === seq)!;
    },
  };
}

// bpftool 7.1 lists no UNIX socket attach types (Linux 6.7+): al_connect_unix and
// al_sendmsg_unix are attached too, and bpf-audit checks them by their effect.
const CGROUP_PROGRAMS = ['al_connect4', 'al_connect6', 'al_sendmsg4', 'al_sendmsg6', 'al_sock_create'];

describe('line protocol', () => {
  it('answers every bad line with an error code and keeps serving', async () => {
    const l = raw();
    await waitFor('ready', () => l.lines.some((x) => x.event === 'ready'));
    const cg = cgroup();
    const policy = egressTables(testPolicy({ allow: [rule('10.0.0.0/8')] })).policy;
    const bad: Array<[string, string]> = [
      ['not json', 'BAD_JSON'],
      ['[1,2,3]', 'BAD_JSON'],
      ['{"seq":1', 'BAD_JSON'],
      ['{"seq":2}', 'BAD_REQUEST'],
      ['{"seq":3,"cmd":"fly"}', 'UNKNOWN_COMMAND'],
      ['{"seq":4,"cmd":"add-agent","id":"x"}', 'BAD_REQUEST'],
      [JSON.stringify({ seq: 5, cmd: 'add-agent', id: 'bad/id', cgroup: cg.path, policy }), 'BAD_REQUEST'],
      [JSON.stringify({ seq: 6, cmd: 'add-agent', id: 'x', cgroup: '/tmp', policy }), 'CGROUP'],
      [JSON.stringify({ seq: 7, cmd: 'add-agent', id: 'x', cgroup: '/nonexistent', policy }), 'CGROUP'],
      [JSON.stringify({ seq: 8, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, v4: [{ address: '10.0.0.1', prefix: 8, rules: [] }] } }), 'BAD_REQUEST'],
      [JSON.stringify({ seq: 9, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, v4: [{ address: 'nope', prefix: 8, rules: [] }] } }), 'BAD_REQUEST'],
      [JSON.stringify({ seq: 10, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, v4: [{ address: '10.0.0.0', prefix: 8, rules: [[2, 0, 0, 1, 1]] }] } }), 'BAD_REQUEST'],
      [JSON.stringify({ seq: 11, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, v4: [{ address: '10.0.0.0', prefix: 8, rules: Array(33).fill([0, 0, 0, 1, 1]) }] } }), 'POLICY_TOO_LARGE'],
      [JSON.stringify({ seq: 12, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, v4: [...policy.v4, ...policy.v4] } }), 'BAD_REQUEST'],
      [JSON.stringify({ seq: 13, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy: { ...policy, kill: 'yes' } }), 'BAD_REQUEST'],
      ['{"seq":14,"cmd":"track-pid","id":"nobody","pid":1}', 'AGENT_NOT_FOUND'],
      ['{"seq":15,"cmd":"remove-agent","id":"nobody"}', 'AGENT_NOT_FOUND'],
      ['{"seq":16,"cmd":"ping","x":"\\u0000"}', 'BAD_JSON'],
      [`{"seq":17,"cmd":"ping","pad":"${'x'.repeat(9 << 20)}"}`, 'LINE_TOO_LONG'],
    ];
    for (const [line] of bad) l.send(line);
    l.send('{"seq":100,"cmd":"ping"}');
    await l.reply(100);
    const errors = l.lines.filter((x) => x.ok === false);
    expect(errors.map((e) => e.code)).toEqual(bad.map(([, code]) => code));
    for (const e of errors) expect(typeof e.error).toBe('string');
    // a failed add-agent leaves nothing behind: the same id and cgroup work afterwards
    expect(attached(cg.path)).toEqual([]);
    l.send(JSON.stringify({ seq: 101, cmd: 'add-agent', id: 'x', cgroup: cg.path, policy }));
    expect(await l.reply(101)).toMatchObject({ ok: true, agent: 1 });
    expect(await (l.send('{"seq":102,"cmd":"ping"}'), l.reply(102))).toMatchObject({ ok: true, agents: 1 });
    l.child.stdin.end();
    expect(await l.exited).toEqual({ code: 0, signal: null });
    expect(attached(cg.path)).toEqual([]);
  });

  it('survives 2000 random mutations of a valid request, answering each line once', async () => {
    const cg = cgroup();
    const valid = JSON.stringify({
      cmd: 'add-agent',
      seq: 1,
      id: 'f',
      cgroup: cg.path,
      policy: egressTables(testPolicy({ allow: [rule('10.0.0.0/8', [[1, 100]], 'tcp')], deny: [rule('fd00::/8')], resolver: { address: '10.0.0.53', port: 53 } })).policy,
    });
    let seed = 7;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % k;
    };
    const alphabet = '{}[]":,\\u0123456789abcdef-.eE tnrfl\u0001\u00ff';
    const lines: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = [...valid];
      for (let m = 0; m <= rand(6); m++) {
        const at = rand(t.length);
        const c = alphabet[rand(alphabet.length)]!;
        if (m % 3 === 0) t[at] = c;
        else if (m % 3 === 1) t.splice(at, 1);
        else t.splice(at, 0, c);
      }
      lines.push(t.join(''));
      if (i % 50 === 0) lines.push('{"cmd":"remove-agent","seq":9,"id":"f"}');
    }
    const l = raw();
    for (const line of lines) l.send(line);
    l.send('{"seq":77,"cmd":"ping"}');
    await l.reply(77);
    expect(l.lines.filter((x) => 'ok' in x)).toHaveLength(lines.length + 1);
    l.child.stdin.end();
    expect(await l.exited).toEqual({ code: 0, signal: null });
    expect(attached(cg.path)).toEqual([]);
  });
});

describe('typed errors of the client', () => {
  it('maps the loader refusals to BPF_* codes', async () => {
    const loader = await BpfLoader.start();
    try {
      const cg = cgroup();
      const policy = testPolicy({});
      await loader.addAgent('dup', cg.path, policy);
      await expect(loader.addAgent('dup', cgroup().path, policy)).rejects.toMatchObject({ code: 'BPF_AGENT_EXISTS' });
      await expect(loader.addAgent('other', cg.path, policy)).rejects.toMatchObject({ code: 'BPF_AGENT_EXISTS' });
      await expect(loader.addAgent('x', '/tmp', policy)).rejects.toMatchObject({ code: 'BPF_CGROUP', hint: expect.any(String) });
      await expect(loader.trackPid('nobody', process.pid)).rejects.toMatchObject({ code: 'BPF_AGENT_NOT_FOUND' });
      await expect(loader.trackPid('dup', 0x3ffffff0)).rejects.toMatchObject({ code: 'BPF_PID' });
      await expect(loader.removeAgent('nobody')).rejects.toMatchObject({ code: 'BPF_AGENT_NOT_FOUND' });
      await loader.removeAgent('dup');
    } finally {
      await loader.close();
    }
    await expect(loader.ping()).rejects.toMatchObject({ code: 'BPF_LOADER_EXITED' });
    await expect(BpfLoader.start({ path: '/nonexistent/airlock-bpf' })).rejects.toMatchObject({ code: 'BPF_LOADER_MISSING' });
  });
});

describe('life cycle', () => {
  it('on SIGTERM detaches from every agent, unloads everything and puts kernel audit back as it was', async () => {
    const before = await probeBpf();
    const loader = await BpfLoader.start();
    const cg = cgroup();
    await loader.addAgent('t', cg.path, testPolicy({}, { audit: { allows: true } }));
    expect(attached(cg.path)).toEqual(CGROUP_PROGRAMS);
    expect(loadedPrograms()).toEqual(expect.arrayContaining(OUR_PROGRAMS));
    process.kill(loader.pid, 'SIGTERM');
    expect(await loader.exited).toEqual({ code: 0, signal: null });
    expect(attached(cg.path)).toEqual([]);
    await waitFor('our programs to be unloaded', () => !loadedPrograms().some((p) => OUR_PROGRAMS.includes(p)), 5000);
    const after = await probeBpf();
    expect(after.kernelAudit).toEqual(before.kernelAudit);
  });

  it('killed without cleaning up, it leaves the agents fenced in; the next loader takes over and restores audit', async () => {
    const before = await probeBpf();
    const first = await BpfLoader.start();
    const cg = cgroup();
    await first.addAgent('fenced', cg.path, testPolicy({ loopback: true }));
    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    // the programs and their maps outlive the loader
    expect(attached(cg.path)).toEqual(CGROUP_PROGRAMS);
    expect((await probe(cg, [{ op: 'tcp', host: '192.0.2.1', port: 80 }])).results).toEqual(['EPERM']);

    const second = await BpfLoader.start();
    try {
      await second.addAgent('fenced', cg.path, testPolicy({ allow: [rule('192.0.2.0/24')] }));
      // one set of programs: the stale ones were detached, the new policy alone decides
      expect(attached(cg.path)).toEqual(CGROUP_PROGRAMS);
      expect((await probe(cg, [{ op: 'tcp', host: '127.0.0.1', port: 9 }])).results).toEqual(['EPERM']);
    } finally {
      await second.close();
    }
    // the second loader put back the audit settings the first one found
    expect((await probeBpf()).kernelAudit).toEqual(before.kernelAudit);
  });
  it('two at once: when the audit daemon one stops, audit stays enabled for the other, which takes over; the last one out restores audit', async () => {
    const before = await probeBpf();
    const first = await BpfLoader.start();
    const second = await BpfLoader.start();
    try {
      expect(first.ready.kaudit).toBe('daemon');
      expect(second.ready.kaudit).toBe('multicast');
      await first.close();
      // Landlock logs only while audit is enabled: the listener left must not lose it
      expect((await probeBpf()).kernelAudit).toMatchObject({ enabled: true });
      await waitFor('the second loader to take over as the audit daemon', async () => (await second.ping()).kaudit === 'daemon', 3000);
      expect((await probeBpf()).kernelAudit).toMatchObject({ enabled: true, daemonPid: second.pid });
    } finally {
      await first.close();
      await second.close();
    }
    expect((await probeBpf()).kernelAudit).toEqual(before.kernelAudit);
  });
});

describe('probe', () => {
  it('reports what this kernel loads: cgroup socket programs, tp_btf, raw_tp and BTF yes; BPF LSM refused here', async () => {
    const p = await probeBpf();
    expect(p.btf.ok).toBe(true);
    expect(p.programs.cgroup_sock_addr.ok).toBe(true);
    expect(p.programs.cgroup_sock_create.ok).toBe(true);
    expect(p.programs.tp_btf.ok).toBe(true);
    expect(p.programs.raw_tp.ok).toBe(true);
    expect(p.programs.lsm).toMatchObject({ ok: false, errno: 1 });
    expect(p.ringbuf.ok).toBe(true);
    expect(p.fileOpenAudit.ok).toBe(true);
    expect(p.usable).toBe(true);
    await expect(probeBpf({ path: '/nonexistent/airlock-bpf' })).rejects.toMatchObject({ code: 'BPF_LOADER_MISSING' });
  });
});
