/**
 * The audit trail's pure parts, without a kernel: loader events and kernel
 * audit records (formats as this kernel writes them) → audit events, the first
 * violation, allows only when the policy audits them; the audit file read
 * backwards across chunk boundaries; the layer checks that refuse a run.
 */
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditTranslator, auditFields, type AuditEvent } from '../../services/enforcer/audit-events.js';
import { AuditLog, readAuditLog } from '../../services/enforcer/audit-log.js';
import type { ForwardedEvent } from '../../services/enforcer/bpf-broker/index.js';
import { budgetEvents } from '../../services/enforcer/budget-events.js';
import { auditLayerProblems, cgroupLayerProblems, launchLayerProblems, refuseUnlessComplete } from '../../services/enforcer/layers.js';
import type { CompiledPolicy } from '../../services/enforcer/policy/index.js';

const PID = 4242;
const base = { agent: 1, timeNs: 1e9, tid: PID, uid: 65534, comm: 'python3', killed: false, truncated: false };

function translator(over: { onViolation?: 'kill' | 'deny'; allows?: boolean } = {}) {
  const policy = { name: 'p', onViolation: over.onViolation ?? 'deny', audit: { allows: over.allows ?? false }, execution: {} } as unknown as CompiledPolicy;
  return new AuditTranslator({ agent: 'a-1', policy, pid: PID, program: '/usr/bin/python3', wallClock: (ns) => new Date(ns / 1e6) });
}

const kaudit = (layer: 'landlock' | 'seccomp', record: string, pid = PID): ForwardedEvent => ({ kind: 'kaudit', agentId: 'a-1', layer, type: layer === 'seccomp' ? 1326 : 1423, pid, denied: true, record });

describe('audit events from the layers', () => {
  it('Landlock records: operation, target and rule from blockers and the object; pid is the domain creator, time the record’s', () => {
    const t = translator();
    const { events } = t.translate(kaudit('landlock', 'audit(1795615810.445:1781): domain=18d506b7d blockers=fs.read_file path="/etc/hostname" dev="vda" ino=612'));
    expect(events).toEqual([
      expect.objectContaining({ time: '2026-11-25T14:10:10.445Z', agent: 'a-1', pid: PID, exe: null, operation: 'read', target: '/etc/hostname', verdict: 'deny', layer: 'landlock', rule: 'not granted: fs.read_file', policy: 'p' }),
    ]);
    const net = t.translate(kaudit('landlock', 'audit(1.000:2): domain=1 blockers=net.connect_tcp daddr=127.0.0.1 dest=4873')).events[0];
    expect(net).toMatchObject({ operation: 'connect', target: '127.0.0.1:4873/tcp' });
    const sig = t.translate(kaudit('landlock', 'audit(1.000:3): domain=1 blockers=scope.signal opid=1 ocomm="systemd"')).events[0];
    expect(sig).toMatchObject({ operation: 'signal', target: 'pid 1 (systemd)' });
    // audit writes a string with spaces or odd bytes as unquoted hex
    const hex = t.translate(kaudit('landlock', 'audit(1.000:4): domain=1 blockers=fs.write_file,fs.truncate path=2F746D702F6120622E747874 dev="vda" ino=9')).events[0];
    expect(hex).toMatchObject({ operation: 'write', target: '/tmp/a b.txt', rule: 'not granted: fs.write_file,fs.truncate' });
  });

  it('Landlock filesystem denials are named by every right they report, not the first: links and renames into another folder, renames within one', () => {
    // Records as this kernel writes them (escape cases F04, F11, F12): a link or rename from out/ into ws/ is
    // reported once per folder, each with every right the file would gain or lose, so the first blocker says nothing.
    const source = 'blockers=fs.execute,fs.write_file,fs.read_file,fs.read_dir,fs.remove_dir,fs.remove_file,fs.make_char,fs.make_dir,fs.make_reg,fs.make_sock,fs.make_fifo,fs.make_block,fs.make_sym,fs.refer,fs.truncate,fs.ioctl_dev path="/w/out"';
    const destination = 'blockers=fs.execute,fs.make_char,fs.make_block,fs.ioctl_dev path="/w/ws"';
    const op = (record: string) => translator().translate(kaudit('landlock', `audit(1.000:9): domain=1 ${record} dev="vda" ino=5`)).events[0];
    expect(op(source)).toMatchObject({ operation: 'link', target: '/w/out', rule: expect.stringContaining('fs.refer') });
    expect(op(destination)).toMatchObject({ operation: 'link', target: '/w/ws', rule: 'not granted: fs.execute,fs.make_char,fs.make_block,fs.ioctl_dev' });
    expect(op('blockers=fs.refer path="/w/ws"').operation).toBe('link');
    expect(op('blockers=fs.remove_file,fs.make_reg path="/w/out"').operation).toBe('rename');
    const one = (blockers: string) => op(`blockers=${blockers} path="/p"`).operation;
    expect(
      ['fs.execute', 'fs.execute,fs.read_file', 'fs.read_file', 'fs.write_file,fs.read_file', 'fs.write_file,fs.truncate', 'fs.truncate', 'fs.read_dir', 'fs.ioctl_dev', 'fs.remove_file', 'fs.remove_dir', 'fs.make_reg', 'fs.make_dir', 'fs.make_fifo', 'fs.make_char', 'fs.make_block', 'fs.change_topology'].map(one),
    ).toEqual(['exec', 'exec', 'read', 'write', 'write', 'truncate', 'list', 'ioctl', 'remove', 'remove', 'create', 'create', 'create', 'mknod', 'mknod', 'mount']);
    // under kill the violation carries the same name
    const killing = translator({ onViolation: 'kill' }).translate(kaudit('landlock', `audit(1.000:9): domain=1 ${source}`));
    expect(killing.violation).toMatchObject({ layer: 'landlock', operation: 'link', target: '/w/out' });
  });

  it('Landlock network targets are written as the eBPF events write them: IPv6 in brackets, v4-mapped as IPv4', () => {
    const t = translator();
    const target = (fields: string) => t.translate(kaudit('landlock', `audit(1.000:10): domain=1 ${fields}`)).events[0]!.target;
    expect(target('blockers=net.connect_tcp daddr=fd00:213:e2::2 dest=9090')).toBe('[fd00:213:e2::2]:9090/tcp');
    expect(target('blockers=net.connect_tcp daddr=::ffff:10.213.226.2 dest=9090')).toBe('10.213.226.2:9090/tcp');
    expect(target('blockers=net.connect_tcp daddr=FD00:0:0:0:0:0:0:2 dest=80')).toBe('[fd00::2]:80/tcp');
    expect(target('blockers=net.connect_tcp dest=9090')).toBe('port 9090/tcp');
    expect(target('blockers=net.bind_tcp src=8000')).toBe('port 8000/tcp');
    expect(target('blockers=net.bind_tcp saddr=::1 src=8000')).toBe('[::1]:8000/tcp');
    // the eBPF events of the same destinations, for comparison
    const connect = { ...base, pid: PID, type: 'connect' as const, hook: 'connect6' as const, verdict: 'deny' as const, reason: 'no-rule' as const, port: 9090, protocol: 6, rule: 0 };
    const ebpf = (family: 4 | 6, mapped: boolean, address: string) => t.translate({ kind: 'bpf', agentId: 'a-1', event: { ...connect, family, mapped, address } }).events[0]!.target;
    expect(ebpf(6, false, 'fd00:213:e2::2')).toBe('[fd00:213:e2::2]:9090/tcp');
    expect(ebpf(4, true, '10.213.226.2')).toBe('10.213.226.2:9090/tcp');
  });

  it('seccomp records: the syscall by name, the process and exe from the record, kill or errno from its code', () => {
    const t = translator();
    const errno = t.translate(kaudit('seccomp', 'audit(1.000:5): auid=4294967295 uid=65534 gid=65534 ses=4294967295 pid=77 comm="python3.11" exe="/usr/bin/python3.11" sig=0 arch=c000003e syscall=101 compat=0 ip=0x7f code=0x50000', 77)).events[0];
    expect(errno).toMatchObject({ pid: 77, exe: '/usr/bin/python3.11', operation: 'syscall', target: 'ptrace', verdict: 'deny', layer: 'seccomp', rule: 'never allowed: trace or inject into another process' });
    const kill = t.translate(kaudit('seccomp', 'audit(1.000:6): pid=78 comm="sh" exe="/usr/bin/dash" sig=31 arch=c000003e syscall=58 code=0x80000000', 78)).events[0];
    expect(kill).toMatchObject({ operation: 'spawn', target: 'vfork', verdict: 'kill', rule: 'execution.spawn: false' });
  });

  it('eBPF connects: address, port and protocol, the rule by its source; the first launch exec names the program', () => {
    const t = translator({ allows: true });
    const exec = t.translate({ kind: 'bpf', agentId: 'a-1', event: { ...base, pid: PID, type: 'exec', ppid: 1, filename: '/dev/fd/3' } }).events[0];
    expect(exec).toMatchObject({ operation: 'exec', target: '/usr/bin/python3', exe: '/usr/bin/python3', verdict: 'allow', layer: 'ebpf' });
    const connect = { ...base, pid: PID, type: 'connect' as const, hook: 'connect6' as const, family: 6 as const, mapped: false, address: 'fd00::2', port: 443, protocol: 6, rule: 3 };
    const allowed = t.translate({ kind: 'bpf', agentId: 'a-1', event: { ...connect, verdict: 'allow', reason: 'rule' }, rule: { verdict: 'allow', source: 'tcp://[fd00::2]:443', address: 'fd00::2', prefix: 128 } }).events[0];
    expect(allowed).toMatchObject({ operation: 'connect', target: '[fd00::2]:443/tcp', verdict: 'allow', rule: 'allow_egress: tcp://[fd00::2]:443', exe: '/usr/bin/python3' });
    const dns = t.translate({ kind: 'bpf', agentId: 'a-1', event: { ...connect, hook: 'sendmsg4', family: 4, address: '10.0.0.9', port: 53, protocol: 17, rule: 0, verdict: 'deny', reason: 'dns' } }).events[0];
    expect(dns).toMatchObject({ operation: 'send', target: '10.0.0.9:53/udp', verdict: 'deny', rule: 'DNS goes only to the appliance resolver' });
  });

  it('allows are recorded only when the policy audits them; denials always', () => {
    const quiet = translator({ allows: false });
    const open = { kind: 'bpf' as const, agentId: 'a-1', event: { ...base, pid: PID, type: 'open' as const, path: '/etc/passwd', ret: 3, flags: 0 } };
    expect(quiet.translate(open).events).toEqual([]);
    expect(translator({ allows: true }).translate(open).events).toHaveLength(1);
    // a failed open is not our decision (Landlock reports its own denials)
    expect(translator({ allows: true }).translate({ ...open, event: { ...open.event, ret: -13 } }).events).toEqual([]);
  });

  it('under kill, the first denial is the violation (verdict kill); the loader’s kill report carries the latency', () => {
    const t = translator({ onViolation: 'kill' });
    const first = t.translate(kaudit('landlock', 'audit(1.000:7): domain=1 blockers=fs.read_file path="/etc/shadow"'));
    expect(first.violation).toMatchObject({ layer: 'landlock', operation: 'read', target: '/etc/shadow' });
    expect(first.events[0]!.verdict).toBe('kill');
    expect(t.translate(kaudit('landlock', 'audit(1.000:8): domain=1 blockers=fs.read_file path="/etc/gshadow"')).violation).toBeUndefined();
    expect(t.violation?.target).toBe('/etc/shadow');
    const killed = t.translate({ kind: 'killed', agentId: 'a-1', reason: 'landlock', pid: PID, inKernel: false, cgroupKill: true, latencyNs: 4_500_000 });
    expect(killed.kill).toEqual({ layer: 'landlock', pid: PID, inKernel: false, latencyMs: 4.5 });
    expect(killed.events[0]).toMatchObject({ operation: 'kill', verdict: 'kill', layer: 'landlock', rule: 'on_violation: kill' });
    expect(t.translate({ kind: 'lost', count: 3, total: 3 })).toEqual({ events: [], lost: 3 });
  });

  it('parses audit fields: words, quoted strings, hex only where audit uses it', () => {
    const f = auditFields('audit(1.0:1): pid=5 comm="a b" exe=2F62696E2F7368 key=(null) code=0x50000');
    expect(Object.fromEntries(f)).toEqual({ pid: '5', comm: 'a b', exe: '/bin/sh', key: '(null)', code: '0x50000' });
  });

  it('cgroup budgets become events at the end: refused forks, OOM kills, the timeout', () => {
    const policy = { execution: { maxProcesses: 4, maxMemoryBytes: 48 * 2 ** 20, timeoutSeconds: 90 } } as CompiledPolicy;
    const usage = { pids: { current: 0, max: 4, forkFailures: 2 }, memory: { currentBytes: 0, maxBytes: 1, oomKills: 1, peakBytes: 50 }, frozen: false };
    expect(budgetEvents(policy, usage, true, 9).map((e) => [e.operation, e.verdict, e.rule])).toEqual([
      ['spawn', 'deny', 'execution.max_processes: 4'],
      ['memory', 'kill', 'execution.max_memory_mb: 48'],
      ['timeout', 'kill', 'execution.timeout_minutes (90 s)'],
    ]);
    expect(budgetEvents(policy, { ...usage, pids: { ...usage.pids, forkFailures: 0 }, memory: { ...usage.memory, oomKills: 0 } }, false, 9)).toEqual([]);
  });
});

describe('the audit file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const event = (i: number, agent = i % 3 === 0 ? 'b' : 'a'): AuditEvent => ({ time: new Date(i).toISOString(), agent, pid: i, exe: null, operation: 'read', target: `/f/${'x'.repeat(i % 97)}`, verdict: 'deny', layer: 'landlock', rule: 'r', policy: 'p' });

  it('is appended line by line, root-only, and read back from the end across chunks', async () => {
    const file = join(dir, 'audit', 'enforcer.jsonl');
    const log = await AuditLog.open(file);
    for (let i = 0; i < 3000; i++) log.append(event(i));
    log.close();
    expect(log.written).toBe(3000);
    const all = await readAuditLog(file);
    expect(all.map((e) => e.pid)).toEqual([...Array(3000).keys()]);
    expect((await readAuditLog(file, { limit: 5 })).map((e) => e.pid)).toEqual([2995, 2996, 2997, 2998, 2999]);
    const b = await readAuditLog(file, { agent: 'b', limit: 700 });
    expect(b).toHaveLength(700);
    expect(b.every((e) => e.agent === 'b')).toBe(true);
    expect(b.at(-1)!.pid).toBe(2997);
    expect(b[0]!.pid).toBe(2997 - 3 * 699);
  });

  it('skips a line cut short by a crash, and reads a missing file as empty', async () => {
    const file = join(dir, 'torn.jsonl');
    writeFileSync(file, `${JSON.stringify(event(1))}\n`);
    appendFileSync(file, '{"time":"2026-');
    expect((await readAuditLog(file)).map((e) => e.pid)).toEqual([1]);
    expect(await readAuditLog(join(dir, 'none.jsonl'))).toEqual([]);
  });
});

describe('layer checks', () => {
  const host = { landlock: { abi: 7 }, seccomp: { available: true }, mmapMinAddr: 4096 };
  const exec = { execution: { exec: true } } as CompiledPolicy;
  const noExec = { execution: { exec: false } } as CompiledPolicy;

  it('every layer present: nothing to refuse', () => {
    expect(launchLayerProblems(host, noExec)).toEqual([]);
    expect(auditLayerProblems({ kaudit: 'daemon', kauditEnabled: true, kauditNote: '' })).toEqual([]);
    expect(() => refuseUnlessComplete([])).not.toThrow();
  });

  it('names each missing layer, and the refusal lists them all with hints', () => {
    const problems = [
      ...launchLayerProblems({ landlock: { abi: 5 }, seccomp: { available: false }, mmapMinAddr: 0 }, noExec),
      ...auditLayerProblems({ kaudit: 'multicast', kauditEnabled: false, kauditNote: 'an audit daemon runs' }),
      ...cgroupLayerProblems({ kind: 'v1', unifiedControllers: [], v1: {}, pids: { version: 1, mount: '/sys/fs/cgroup/pids' } }),
    ];
    expect(problems.map((p) => p.layer)).toEqual(['landlock', 'seccomp', 'seccomp', 'kernel-audit', 'cgroup']);
    expect(launchLayerProblems({ ...host, mmapMinAddr: 0 }, exec)).toEqual([]); // the exec gate matters only without exec
    expect(() => refuseUnlessComplete(problems)).toThrow(expect.objectContaining({ code: 'ENFORCER_LAYER_UNAVAILABLE', details: { layers: problems } }));
  });
});
