/** Kernel version and BTF: the enforcer's CO-RE eBPF programs need the kernel's own type information. */
import { access } from 'node:fs/promises';
import { release } from 'node:os';
import type { CheckGroup, CheckResult } from './types.js';

export const BTF_PATH = '/sys/kernel/btf/vmlinux';
/** Landlock's TCP port rules (ABI 4) arrived in 6.7; older kernels lose a layer. */
const MIN_KERNEL: [number, number] = [6, 7];

export function kernelVersion(text = release()): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function atLeast(version: [number, number], wanted: [number, number]): boolean {
  return version[0] > wanted[0] || (version[0] === wanted[0] && version[1] >= wanted[1]);
}

export const kernelChecks: CheckGroup = {
  id: 'kernel',
  title: 'kernel',
  run: async () => {
    const text = release();
    const version = kernelVersion(text);
    const results: CheckResult[] = [];
    if (version && atLeast(version, MIN_KERNEL)) {
      results.push({ id: 'kernel.version', status: 'pass', message: `Linux ${text}` });
    } else {
      results.push({
        id: 'kernel.version',
        status: 'warn',
        message: `Linux ${text} is older than ${MIN_KERNEL.join('.')}: Landlock cannot filter TCP ports there`,
        hint: 'Egress is still enforced by the eBPF cgroup programs; upgrade the kernel for the Landlock layer.',
      });
    }
    const btf = await access(BTF_PATH).then(
      () => true,
      () => false,
    );
    results.push(
      btf
        ? { id: 'kernel.btf', status: 'pass', message: `BTF present at ${BTF_PATH}` }
        : {
            id: 'kernel.btf',
            status: 'fail',
            message: `no BTF at ${BTF_PATH}: the enforcer's eBPF programs cannot be relocated for this kernel`,
            hint: 'Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default on current RHEL, Ubuntu and Debian kernels).',
          },
    );
    return results;
  },
};
