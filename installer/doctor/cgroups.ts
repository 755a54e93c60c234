/**
 * The cgroup layout (v2, hybrid or v1), as the enforcer itself detects it:
 * it needs a cgroup2 hierarchy to attach its socket programs and kill or
 * freeze agents, and the pids and memory controllers for budgets.
 */
import { detectCgroupLayout, type CgroupLayout } from '../../services/enforcer/cgroups/index.js';
import type { CheckGroup, CheckResult } from './types.js';

function describe(layout: CgroupLayout): string {
  const v1 = Object.entries(layout.v1).map(([controller, mount]) => `${controller} (${mount})`);
  const v2 = layout.unified ? `cgroup2 at ${layout.unified} (controllers: ${layout.unifiedControllers.join(', ') || 'none'})` : 'no cgroup2';
  return layout.kind === 'v2' ? v2 : `${layout.kind}: ${v2}${v1.length ? `; v1 controllers ${v1.join(', ')}` : ''}`;
}

export const cgroupChecks: CheckGroup = {
  id: 'cgroup',
  title: 'cgroups',
  run: async () => {
    let layout: CgroupLayout;
    try {
      layout = await detectCgroupLayout();
    } catch (error) {
      return [{ id: 'cgroup.layout', status: 'fail', message: (error as Error).message, hint: (error as { hint?: string }).hint }];
    }
    const missing = [
      ...(layout.unified ? [] : ['a cgroup2 hierarchy (eBPF socket programs, cgroup.kill)']),
      ...(layout.pids ? [] : ['the pids controller']),
      ...(layout.memory ? [] : ['the memory controller']),
    ];
    const result: CheckResult =
      missing.length > 0
        ? {
            id: 'cgroup.layout',
            status: 'fail',
            message: `${describe(layout)}; missing ${missing.join(', ')}`,
            hint: 'Boot with a cgroup v2 hierarchy (systemd.unified_cgroup_hierarchy=1), or mount cgroup2 at /sys/fs/cgroup/unified and the v1 pids and memory controllers.',
          }
        : layout.kind === 'v2'
          ? { id: 'cgroup.layout', status: 'pass', message: describe(layout) }
          : {
              id: 'cgroup.layout',
              status: 'warn',
              message: `${describe(layout)}; budgets use v1 controllers, the eBPF programs attach to cgroup2`,
              hint: 'This works; a pure cgroup v2 host (systemd.unified_cgroup_hierarchy=1) is simpler and is what most hosts run.',
            };
    return [result];
  },
};
