/**
 * What crashed `airlock run`s leave, removed only where it is provably
 * stale. Agent cgroups are host-wide (`<hierarchy>/airlock/<id>`) while
 * records are per install prefix, so a run proves its agent alive to the
 * sweeps of every prefix with a host-wide claim: `/run/airlock/agents/<id>`
 * naming its process and that process's start time (a reused pid does not
 * count). The claim is written before the agent's cgroups exist and removed
 * after they are gone.
 *
 * The sweep lists the cgroups first, then reads records and claims: a run
 * that starts meanwhile has its claim on disk before its cgroup can be
 * listed, so it is never taken for a leftover. A cgroup whose claim names a
 * dead run is killed and removed; one without any claim (a run of an older
 * build, or one whose claim was removed after its run died) is removed only
 * when empty (the kernel refuses a populated one). Run before each agent
 * starts and by `airlock agents`.
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processStartTicks, type AgentRegistry } from './agent-registry.js';
import type { CgroupManager } from './cgroups/index.js';

/** Host-wide, beside the BPF broker's socket (root-only, out of every agent's reach). */
export const AGENT_CLAIMS_DIR = '/run/airlock/agents';

/** The `airlock run` process supervising an agent, and its start time in clock ticks since boot. */
export interface RunProcess {
  pid: number;
  startTicks: number;
}

export interface SweepReport {
  /** Records of dead runs removed. */
  records: string[];
  /** Agent cgroups removed (killed first when their run is dead). */
  cgroups: string[];
}

export class AgentClaims {
  constructor(readonly dir: string = AGENT_CLAIMS_DIR) {}

  /** Claims agent `id` for this process; call before creating its cgroups, release after removing them. */
  async claim(id: string): Promise<{ run: RunProcess; release: () => Promise<void> }> {
    const run = { pid: process.pid, startTicks: startTicksOf(await readFile('/proc/self/stat', 'utf8')) };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const temp = join(this.dir, `.${id}.${randomBytes(4).toString('hex')}`);
    await writeFile(temp, `${JSON.stringify(run)}\n`, { mode: 0o600 });
    await rename(temp, this.#file(id));
    return { run, release: () => this.remove(id) };
  }

  /** `live`: its run is alive; `dead`: its run is gone; `none`: no claim. */
  async owner(id: string): Promise<'live' | 'dead' | 'none'> {
    let run: RunProcess;
    try {
      run = JSON.parse(await readFile(this.#file(id), 'utf8')) as RunProcess;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
      // Written by rename, so never cut short: unreadable means not ours to judge.
      return 'live';
    }
    return (await processStartTicks(run.pid)) === run.startTicks ? 'live' : 'dead';
  }

  async ids(): Promise<string[]> {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [] as string[];
      throw error;
    });
    return names.filter((n) => !n.startsWith('.'));
  }

  async remove(id: string): Promise<void> {
    await rm(this.#file(id), { force: true });
  }

  #file(id: string): string {
    return join(this.dir, id);
  }
}

export async function sweepStaleAgents(registry: AgentRegistry, cgroups: CgroupManager, claims = new AgentClaims()): Promise<SweepReport> {
  const ids = await cgroups.list();
  const { live, stale } = await registry.list();
  const ours = new Set(live.map((r) => r.id));
  const report: SweepReport = { records: [], cgroups: [] };
  for (const id of ids) {
    if (ours.has(id)) continue;
    const owner = await claims.owner(id);
    if (owner === 'live') continue;
    if (await removeAgentCgroup(cgroups, id, owner === 'dead')) report.cgroups.push(id);
  }
  // Claims of dead runs whose cgroups are gone (a dead run creates none).
  for (const id of await claims.ids()) {
    if ((await claims.owner(id)) === 'dead' && (await cgroupDirs(cgroups, id)).length === 0) await claims.remove(id);
  }
  for (const record of stale) {
    await registry.remove(record.id);
    report.records.push(record.id);
  }
  return report;
}

/**
 * Kills the tree (when its run is provably dead) and removes the agent's
 * directories. False when they are in use, or another sweep removed them first.
 */
async function removeAgentCgroup(cgroups: CgroupManager, id: string, kill: boolean): Promise<boolean> {
  // Missing in some hierarchy (open: NOT_FOUND): made in part by a run that crashed mid-create; nothing ran there.
  const whole = kill ? await cgroups.open(id).catch(() => undefined) : undefined;
  if (whole) {
    try {
      await whole.destroy({ timeoutMs: 2000 });
      return true;
    } catch (error) {
      if ((await cgroupDirs(cgroups, id)).length > 0) throw error;
      return false; // another sweep removed it meanwhile
    }
  }
  let removed = false;
  for (const dir of await cgroupDirs(cgroups, id)) {
    try {
      await rmdir(dir);
      removed = true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EBUSY') return false;
      if (code !== 'ENOENT') throw error;
    }
  }
  return removed;
}

/** The agent's directories that exist, in every hierarchy the layout has. */
async function cgroupDirs(cgroups: CgroupManager, id: string): Promise<string[]> {
  const { unified, pids, memory, freezer } = cgroups.layout;
  const mounts = [...new Set([unified, pids?.mount, memory?.mount, freezer?.mount].filter((m): m is string => m !== undefined))];
  const dirs = mounts.map((mount) => join(mount, cgroups.parent, id));
  const present = await Promise.all(dirs.map((dir) => access(dir).then(() => true, () => false)));
  return dirs.filter((_, i) => present[i]);
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces). */
function startTicksOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}
