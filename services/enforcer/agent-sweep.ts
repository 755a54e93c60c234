/**
 * What a crashed `airlock run` leaves: its record, and its agent cgroups
 * (with whatever still runs in them, which the BPF broker has usually killed
 * already). Run before each agent starts and by `airlock agents`. Only agents
 * without a live run are touched: a concurrent run writes its record before
 * it creates its cgroup, so its agent is never mistaken for a leftover.
 */
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentRegistry } from './agent-registry.js';
import type { CgroupManager } from './cgroups/index.js';
import { CgroupError, CgroupErrorCodes } from './errors.js';

export interface SweepReport {
  /** Records of dead runs removed. */
  records: string[];
  /** Agent cgroups of dead runs killed and removed. */
  cgroups: string[];
}

export async function sweepStaleAgents(registry: AgentRegistry, cgroups: CgroupManager): Promise<SweepReport> {
  const { live, stale } = await registry.list();
  const keep = new Set(live.map((r) => r.id));
  const report: SweepReport = { records: [], cgroups: [] };
  for (const id of await cgroups.list()) {
    if (keep.has(id)) continue;
    await removeAgentCgroup(cgroups, id);
    report.cgroups.push(id);
  }
  for (const record of stale) {
    await registry.remove(record.id);
    report.records.push(record.id);
  }
  return report;
}

async function removeAgentCgroup(cgroups: CgroupManager, id: string): Promise<void> {
  try {
    await (await cgroups.open(id)).destroy({ timeoutMs: 2000 });
  } catch (error) {
    if (!(error instanceof CgroupError) || error.code !== CgroupErrorCodes.NOT_FOUND) throw error;
    // Made in some hierarchies only (a crash mid-create): nothing ever ran there, so each is empty.
    const { unified, pids, memory, freezer } = cgroups.layout;
    const mounts = new Set([unified, pids?.mount, memory?.mount, freezer?.mount].filter((m): m is string => m !== undefined));
    for (const mount of mounts) {
      await rmdir(join(mount, cgroups.parent, id)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
  }
}
