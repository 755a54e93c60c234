/**
 * `airlock agents`: the running agents, from their records, with their
 * budgets and what they use now (read from their cgroups). Records of dead
 * runs (and their cgroups) are cleaned on the way. Root only (run/ is root's).
 */
import { AgentRegistry, type AgentRecord } from './agent-registry.js';
import { sweepStaleAgents } from './agent-sweep.js';
import { CgroupManager, detectCgroupLayout } from './cgroups/index.js';
import { RunError, RunErrorCodes } from './errors.js';

export interface AgentUsageNow {
  pids: number;
  pidsPeak: number | null;
  forkFailures: number;
  memoryBytes: number;
  memoryPeakBytes: number | null;
  oomKills: number;
  frozen: boolean;
}

export interface AgentListing extends AgentRecord {
  /** Null when the cgroups could not be read (the agent is ending). */
  usage: AgentUsageNow | null;
}

export interface ListResult {
  agents: AgentListing[];
  /** Ids of dead runs whose records (and cgroups) were removed. */
  cleaned: string[];
}

export async function listAgents(options: { agentsDir: string; cgroupParent?: string }): Promise<ListResult> {
  if (process.geteuid?.() !== 0) {
    throw new RunError(RunErrorCodes.NEEDS_ROOT, 'listing agents needs root: their records are root-only', { hint: 'Run `airlock agents` as root.' });
  }
  const registry = new AgentRegistry(options.agentsDir);
  const cgroups = new CgroupManager(await detectCgroupLayout(), { parent: options.cgroupParent ?? 'airlock' });
  const cleaned = (await sweepStaleAgents(registry, cgroups)).records;
  const { live } = await registry.list();
  const agents: AgentListing[] = [];
  for (const record of live) {
    const usage = await cgroups
      .open(record.id)
      .then((cg) => cg.usage())
      .then(
        (u): AgentUsageNow => ({
          pids: u.pids.current,
          pidsPeak: u.pids.peak ?? null,
          forkFailures: u.pids.forkFailures,
          memoryBytes: u.memory.currentBytes,
          memoryPeakBytes: u.memory.peakBytes ?? null,
          oomKills: u.memory.oomKills,
          frozen: u.frozen,
        }),
        () => null,
      );
    agents.push({ ...record, usage });
  }
  return { agents, cleaned };
}
