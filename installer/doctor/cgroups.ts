/**
 * The cgroup layout: pure v2, v1, or hybrid (v1 controllers plus a cgroup2
 * mount). The enforcer needs a cgroup2 hierarchy to attach its socket
 * programs and the pids and memory controllers (v2, or v1 on hybrid hosts).
 */
import { readFile } from 'node:fs/promises';
import type { CheckGroup, CheckResult } from './types.js';

const NEEDED = ['pids', 'memory'];

interface Mount {
  point: string;
  fstype: string;
  options: string[];
}

/** Mounts from /proc/self/mountinfo (proc(5)): the fields after " - " are type, source, super options. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = left.split(' ')[4];
    const [fstype, , options] = right.split(' ');
    if (point && fstype) mounts.push({ point: point.replace(/\\040/g, ' '), fstype, options: (options ?? '').split(',') });
  }
  return mounts;
}

export const cgroupChecks: CheckGroup = {
  id: 'cgroup',
  title: 'cgroups',
  run: async () => {
    const mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
    const v2 = mounts.find((m) => m.fstype === 'cgroup2');
    const v1 = mounts.filter((m) => m.fstype === 'cgroup');
    const v1Controllers = v1.flatMap((m) => m.options.filter((o) => !['rw', 'ro', 'relatime'].includes(o) && !o.startsWith('name=')));
    const v2Controllers = v2 ? (await readFile(`${v2.point}/cgroup.controllers`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean) : [];
    const layout = v2 && v1Controllers.length === 0 ? 'v2' : v2 ? 'hybrid' : v1.length > 0 ? 'v1' : 'none';
    const describe =
      layout === 'v2'
        ? `cgroup v2 at ${v2!.point} (controllers: ${v2Controllers.join(', ') || 'none'})`
        : layout === 'hybrid'
          ? `hybrid: v1 controllers ${v1Controllers.join(', ')} under ${v1.map((m) => m.point).join(', ')}; cgroup2 at ${v2!.point} (controllers: ${v2Controllers.join(', ') || 'none'})`
          : layout === 'v1'
            ? `cgroup v1 only: ${v1Controllers.join(', ')}`
            : 'no cgroup file system is mounted';
    const missing = NEEDED.filter((c) => !v2Controllers.includes(c) && !v1Controllers.includes(c));
    const result: CheckResult =
      !v2 || missing.length > 0
        ? {
            id: 'cgroup.layout',
            status: 'fail',
            message: `${describe}${!v2 ? '; no cgroup2 hierarchy for the eBPF socket programs' : ''}${missing.length ? `; missing controllers: ${missing.join(', ')}` : ''}`,
            hint: 'Mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup/unified) and enable the pids and memory controllers; or boot with systemd.unified_cgroup_hierarchy=1.',
          }
        : layout === 'hybrid'
          ? {
              id: 'cgroup.layout',
              status: 'warn',
              message: `${describe}; budgets use the v1 controllers, the eBPF programs attach to cgroup2`,
              hint: 'Works; a pure cgroup v2 host (systemd.unified_cgroup_hierarchy=1) is simpler and is what customers mostly run.',
            }
          : { id: 'cgroup.layout', status: 'pass', message: describe };
    return [result];
  },
};
