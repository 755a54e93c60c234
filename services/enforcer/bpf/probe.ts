/**
 * What the BPF layer can do on this host, for `airlock doctor`: runs
 * `airlock-bpf --probe`, which really loads a trivial program of each type
 * (and attaches the tracing ones) instead of guessing from versions.
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';
import { BpfError, BpfErrorCodes } from '../errors.js';
import { defaultLoaderPath } from './paths.js';

const run = promisify(execFile);

export interface ProbeResult {
  ok: boolean;
  /** errno name text when not ok */
  error?: string;
  errno?: number;
  note?: string;
}

export type ProgramType = 'cgroup_sock_addr' | 'cgroup_sock_create' | 'tp_btf' | 'raw_tp' | 'lsm';

export interface BpfProbe {
  /** The kernel's BTF (/sys/kernel/btf/vmlinux), needed by the CO-RE programs. */
  btf: ProbeResult;
  programs: Record<ProgramType, ProbeResult>;
  ringbuf: ProbeResult;
  /** bpf_send_signal_task: the cgroup programs kill a violating process themselves. */
  killInKernel: ProbeResult;
  /** fanotify: the allowed file opens of agents whose policy audits allows (production). */
  fileOpenAudit: ProbeResult;
  /** The kernel audit subsystem, through which Landlock and seccomp denials reach the loader. */
  kernelAudit: { ok: boolean; error?: string; enabled: boolean; daemonPid: number };
  /** Everything the eBPF layer needs (cgroup socket programs, tp_btf, ring buffer, BTF) loads. */
  usable: boolean;
}

/** Runs the probe (as root). Throws BpfError BPF_LOADER_MISSING or BPF_PROBE_FAILED. */
export async function probeBpf(options: { path?: string; timeoutMs?: number } = {}): Promise<BpfProbe> {
  const path = options.path ?? defaultLoaderPath();
  await access(path, constants.X_OK).catch((cause: unknown) => {
    throw new BpfError(BpfErrorCodes.LOADER_MISSING, `the BPF loader ${path} is missing or not executable`, {
      hint: 'Build the BPF layer: make -C bpf (needs clang, libbpf-dev, bpftool; see .ci/prepare).',
      details: { path },
      cause,
    });
  });
  let stdout: string;
  try {
    ({ stdout } = await run(path, ['--probe'], { timeout: options.timeoutMs ?? 15_000 }));
  } catch (cause) {
    throw new BpfError(BpfErrorCodes.PROBE_FAILED, `${path} --probe failed: ${(cause as Error).message}`, {
      hint: 'The probe must run as root.',
      details: { path },
      cause,
    });
  }
  let raw: {
    btf: ProbeResult;
    programs: Record<ProgramType, ProbeResult>;
    ringbuf: ProbeResult;
    kill_in_kernel: ProbeResult;
    fanotify: ProbeResult;
    kernel_audit: BpfProbe['kernelAudit'];
  };
  try {
    raw = JSON.parse(stdout) as typeof raw;
  } catch (cause) {
    throw new BpfError(BpfErrorCodes.PROBE_FAILED, `${path} --probe printed no JSON`, { details: { stdout: stdout.slice(0, 500) }, cause });
  }
  const p = raw.programs;
  return {
    btf: raw.btf,
    programs: p,
    ringbuf: raw.ringbuf,
    killInKernel: raw.kill_in_kernel,
    fileOpenAudit: raw.fanotify,
    kernelAudit: raw.kernel_audit,
    usable: raw.btf.ok && raw.ringbuf.ok && p.cgroup_sock_addr.ok && p.cgroup_sock_create.ok && p.tp_btf.ok,
  };
}
