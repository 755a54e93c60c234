/**
 * The eBPF layer and kernel audit, as the BPF loader finds them: its probe
 * really loads a trivial program of each type (and attaches the tracing
 * ones) rather than guessing from versions. Kernel audit is how Landlock and
 * seccomp denials reach the enforcer. `airlock run` refuses to start an agent
 * where a needed one fails.
 */
import { probeBpf, type BpfProbe } from '../../services/enforcer/index.js';
import type { CheckGroup, CheckResult, DoctorContext } from './types.js';

/** What each program type is for; `lsm` is not used (this kind of host refuses it). */
const PROGRAM_TYPES: Array<[keyof BpfProbe['programs'], string, boolean]> = [
  ['cgroup_sock_addr', 'egress by address and port (connect4/6, sendmsg4/6)', true],
  ['cgroup_sock_create', 'socket kinds (sock_create)', true],
  ['tp_btf', 'process tree, kill on violation (tp_btf)', true],
  ['raw_tp', 'raw tracepoints', false],
  ['lsm', 'BPF LSM programs (not used: a later layer where kernels allow them)', false],
];

let probed: Promise<BpfProbe | Error> | undefined;
function probe(): Promise<BpfProbe | Error> {
  probed ??= probeBpf().catch((error: Error) => error);
  return probed;
}

function needsRoot(ctx: DoctorContext, id: string): CheckResult[] | undefined {
  return ctx.isRoot ? undefined : [{ id, status: 'warn', message: 'not probed: loading BPF programs and reading the audit status needs root', hint: 'Run `airlock doctor` as root.' }];
}

export const ebpfChecks: CheckGroup = {
  id: 'ebpf',
  title: 'eBPF',
  run: async (ctx) => {
    const skipped = needsRoot(ctx, 'ebpf.programs');
    if (skipped) return skipped;
    const p = await probe();
    if (p instanceof Error) return [{ id: 'ebpf.programs', status: 'fail', message: p.message, hint: (p as { hint?: string }).hint ?? 'Build the BPF layer: make -C bpf.' }];
    const results: CheckResult[] = PROGRAM_TYPES.map(([type, what, needed]) => {
      const r = p.programs[type];
      const id = `ebpf.${type}`;
      if (r.ok) return { id, status: 'pass', message: `${type} programs load: ${what}` };
      const why = `${r.error ?? 'refused'}${r.note ? ` (${r.note})` : ''}`;
      return needed
        ? { id, status: 'fail', message: `${type} programs do not load: ${why}; \`airlock run\` refuses to start agents`, hint: 'Use a kernel with CONFIG_BPF_SYSCALL, CONFIG_CGROUP_BPF and BTF (any current distribution kernel).' }
        : { id, status: 'warn', message: `${type} programs do not load: ${why}; ${what}`, hint: 'Nothing to do: the enforcer does not depend on them.' };
    });
    results.push(
      p.btf.ok ? { id: 'ebpf.btf', status: 'pass', message: 'the kernel BTF loads: the CO-RE programs relocate' } : { id: 'ebpf.btf', status: 'fail', message: `the kernel BTF does not load: ${p.btf.error}`, hint: 'Use a kernel built with CONFIG_DEBUG_INFO_BTF=y.' },
      p.ringbuf.ok ? { id: 'ebpf.ringbuf', status: 'pass', message: 'BPF ring buffers work (events to the enforcer)' } : { id: 'ebpf.ringbuf', status: 'fail', message: `BPF ring buffers do not work: ${p.ringbuf.error}`, hint: 'Linux 5.8 or later.' },
      p.killInKernel.ok
        ? { id: 'ebpf.kill-in-kernel', status: 'pass', message: 'bpf_send_signal_task: a denied connect kills its caller before the syscall returns' }
        : { id: 'ebpf.kill-in-kernel', status: 'warn', message: 'no bpf_send_signal_task: killing agents are ended through cgroup.kill, a moment after the denial', hint: 'Linux 6.13 or later kills in the kernel.' },
      p.fileOpenAudit.ok
        ? { id: 'ebpf.file-open-audit', status: 'pass', message: "fanotify works: an agent auditing allows (production) has its file opens audited through marks on its own mounts" }
        : { id: 'ebpf.file-open-audit', status: 'warn', message: `fanotify does not work (${p.fileOpenAudit.error ?? 'refused'}): agents whose policy audits allows (production) are refused`, hint: 'Use a kernel built with CONFIG_FANOTIFY=y.' },
    );
    return results;
  },
};

export const kernelAuditChecks: CheckGroup = {
  id: 'kaudit',
  title: 'kernel audit',
  run: async (ctx) => {
    const skipped = needsRoot(ctx, 'kaudit.available');
    if (skipped) return skipped;
    const p = await probe();
    if (p instanceof Error) return [{ id: 'kaudit.available', status: 'fail', message: `not probed: ${p.message}`, hint: 'Build the BPF layer: make -C bpf.' }];
    const a = p.kernelAudit;
    if (!a.ok) return [{ id: 'kaudit.available', status: 'fail', message: `the kernel audit subsystem is unreachable: ${a.error}; Landlock and seccomp denials would go unaudited, so \`airlock run\` refuses`, hint: 'Use a kernel built with CONFIG_AUDIT=y.' }];
    if (a.daemonPid === 0) return [{ id: 'kaudit.available', status: 'pass', message: `kernel audit available (${a.enabled ? 'enabled' : 'disabled'}, no audit daemon): the BPF loader takes the daemon's place and enables it while agents run` }];
    return [
      a.enabled
        ? { id: 'kaudit.available', status: 'pass', message: `kernel audit enabled by the audit daemon (pid ${a.daemonPid}): the BPF loader listens alongside` }
        : { id: 'kaudit.available', status: 'fail', message: `an audit daemon (pid ${a.daemonPid}) runs with audit disabled: Landlock denials would not be logged, so \`airlock run\` refuses`, hint: 'Enable audit (`auditctl -e 1`) or stop the audit daemon.' },
    ];
  },
};
