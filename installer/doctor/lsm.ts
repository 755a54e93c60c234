/**
 * Active Linux security modules, from securityfs. Where securityfs is not
 * mounted, root reads it in a private mount namespace, so the host's mount
 * table is left exactly as it was.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { atLeast, kernelVersion } from './kernel.js';
import type { CheckGroup, CheckResult, DoctorContext } from './types.js';

const run = promisify(execFile);
const SECURITYFS = '/sys/kernel/security';
const LSM_LIST = `${SECURITYFS}/lsm`;
const MOUNT_HINT = `Mount it: \`mount -t securityfs securityfs ${SECURITYFS}\`, or run doctor as root.`;

/** Kernel releases that introduced each Landlock ABI version (landlock(7)). */
const LANDLOCK_ABI_SINCE: Array<[number, [number, number]]> = [
  [7, [6, 15]],
  [6, [6, 12]],
  [5, [6, 10]],
  [4, [6, 7]],
  [3, [6, 2]],
  [2, [5, 19]],
  [1, [5, 13]],
];

interface LsmList {
  names: string[];
  via: string;
}

async function readLsms(ctx: DoctorContext): Promise<LsmList | undefined> {
  const direct = await readFile(LSM_LIST, 'utf8').catch(() => undefined);
  if (direct !== undefined) return { names: direct.trim().split(','), via: LSM_LIST };
  if (!ctx.isRoot) return undefined;
  const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t securityfs securityfs ${SECURITYFS} && cat ${LSM_LIST}`]).catch(
    () => ({ stdout: '' }),
  );
  return stdout.trim() ? { names: stdout.trim().split(','), via: 'securityfs mounted in a private mount namespace (it is not mounted on the host)' } : undefined;
}

function expectedLandlockAbi(): number | undefined {
  const version = kernelVersion();
  return version ? LANDLOCK_ABI_SINCE.find(([, since]) => atLeast(version, since))?.[0] : undefined;
}

export const lsmChecks: CheckGroup = {
  id: 'lsm',
  title: 'security modules',
  run: async (ctx) => {
    const lsms = await readLsms(ctx);
    if (!lsms) {
      return [{ id: 'lsm.active', status: 'warn', message: `cannot list the active LSMs: ${SECURITYFS} is not mounted`, hint: MOUNT_HINT }];
    }
    const results: CheckResult[] = [{ id: 'lsm.active', status: 'pass', message: `active LSMs: ${lsms.names.join(', ')} (from ${lsms.via})` }];
    const abi = expectedLandlockAbi();
    results.push(
      lsms.names.includes('landlock')
        ? {
            id: 'lsm.landlock',
            status: 'pass',
            message: `Landlock is active${abi ? `; this kernel release implies ABI ${abi} (the enforcer measures the exact ABI)` : ''}`,
          }
        : {
            id: 'lsm.landlock',
            status: 'fail',
            message: 'Landlock is not active: agents would lose their filesystem and port sandbox',
            hint: 'Boot with landlock in the lsm= list (e.g. lsm=landlock,lockdown,yama,bpf) on a kernel built with CONFIG_SECURITY_LANDLOCK=y.',
          },
    );
    results.push(
      lsms.names.includes('bpf')
        ? { id: 'lsm.bpf', status: 'pass', message: 'the BPF LSM is active (some kernels still refuse its programs; the enforcer does not depend on them)' }
        : {
            id: 'lsm.bpf',
            status: 'warn',
            message: 'the BPF LSM is not active: the enforcer relies on cgroup socket programs and tracepoints alone',
            hint: 'Add bpf to the lsm= boot parameter to allow the BPF LSM layer later.',
          },
    );
    return results;
  },
};
