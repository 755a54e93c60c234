/** The host's cgroup layout, read from /proc/self/mountinfo and the cgroup2 root (the I/O edge of layout.ts). */
import { join } from 'node:path';
import { readControl, readOptional } from './cgroupfs.js';
import { cgroupLayout, unifiedMount, type CgroupLayout } from './layout.js';

export async function detectCgroupLayout(mountinfoFile = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  const mountinfo = await readControl(mountinfoFile);
  const unified = unifiedMount(mountinfo);
  const controllers = unified ? await readOptional(join(unified, 'cgroup.controllers')) : undefined;
  return cgroupLayout(mountinfo, controllers ?? '');
}
