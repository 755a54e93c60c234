/**
 * The enforcer's in-process layers, as airlock-launch itself sees them
 * (`--probe`): the Landlock ABI, seccomp filters with logging, and the
 * vm.mmap_min_addr the exec gate of no-exec policies relies on. `airlock run`
 * refuses to start an agent where any of these fails.
 */
import { defaultLauncherPath, EXEC_GATE_ADDRESS, probeHost, REQUIRED_ABI, type HostLayers } from '../../services/enforcer/index.js';
import type { CheckGroup, CheckResult } from './types.js';

const BUILD_HINT = 'Build it: `make -C services/enforcer/native` (or `npm run prepare:host`), or point AIRLOCK_LAUNCHER at it.';

async function probe(): Promise<HostLayers | CheckResult> {
  try {
    return await probeHost(defaultLauncherPath());
  } catch (error) {
    return { id: 'landlock.abi', status: 'fail', message: `cannot probe the host with airlock-launch: ${(error as Error).message}`, hint: BUILD_HINT };
  }
}

let probed: Promise<HostLayers | CheckResult> | undefined;
/** One probe serves both groups of a doctor run. */
function hostLayers(): Promise<HostLayers | CheckResult> {
  probed ??= probe();
  return probed;
}

export const landlockChecks: CheckGroup = {
  id: 'landlock',
  title: 'Landlock',
  run: async () => {
    const host = await hostLayers();
    if ('status' in host) return [host];
    const { abi } = host.landlock;
    return [
      abi >= REQUIRED_ABI
        ? { id: 'landlock.abi', status: 'pass', message: `Landlock ABI ${abi} (agents need ${REQUIRED_ABI}: filesystem, TCP ports, signal and socket scoping, audit of denials)` }
        : {
            id: 'landlock.abi',
            status: 'fail',
            message: abi > 0 ? `Landlock ABI ${abi}: agents need ${REQUIRED_ABI}, so \`airlock run\` refuses to start them` : 'Landlock is not enabled: `airlock run` refuses to start agents',
            hint: `Run Linux 6.15 or later with landlock in the lsm= boot list (Landlock ABI ${REQUIRED_ABI}).`,
          },
    ];
  },
};

export const seccompChecks: CheckGroup = {
  id: 'seccomp',
  title: 'seccomp',
  run: async () => {
    const host = await hostLayers();
    if ('status' in host) return [{ ...host, id: 'seccomp.filter' }];
    return [
      host.seccomp.available
        ? { id: 'seccomp.filter', status: 'pass', message: 'seccomp-BPF filters with logging (denials reach kernel audit)' }
        : { id: 'seccomp.filter', status: 'fail', message: 'seccomp filters with SECCOMP_FILTER_FLAG_LOG are not available: `airlock run` refuses to start agents', hint: 'Use a kernel built with CONFIG_SECCOMP_FILTER=y (every distribution kernel is).' },
      host.mmapMinAddr > EXEC_GATE_ADDRESS
        ? { id: 'seccomp.exec-gate', status: 'pass', message: `vm.mmap_min_addr is ${host.mmapMinAddr}: agents without exec rights can be started through the exec gate` }
        : { id: 'seccomp.exec-gate', status: 'fail', message: `vm.mmap_min_addr is ${host.mmapMinAddr}: policies without exec (sandbox) cannot be enforced`, hint: 'sysctl -w vm.mmap_min_addr=65536 (and set it in /etc/sysctl.d).' },
    ];
  },
};
