/**
 * Creates, finds and sweeps agent cgroups under `<hierarchy>/<parent>/` in
 * every hierarchy the layout needs. One manager per enforcer process.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CgroupError, CgroupErrorCodes } from '../errors.js';
import { AgentCgroup, type AgentCgroupDirs, type KillMethod } from './agent-cgroup.js';
import { childCgroups, exists, readControl, readOptional, removeCgroupTree, writeControl } from './cgroupfs.js';
import type { CgroupLayout } from './layout.js';

export interface CgroupManagerOptions {
  /** Path of the agents' parent cgroup inside each hierarchy (default "airlock"). Under systemd, a delegated cgroup. */
  parent?: string;
  /** "auto": cgroup.kill where the kernel has it; "signal": always freeze + SIGKILL each member + thaw. */
  killMethod?: KillMethod;
}

export interface AgentLimits {
  maxProcesses: number;
  maxMemoryBytes: number;
}

export interface SweepResult {
  /** Agent ids whose stale cgroups were removed. */
  removed: string[];
  /** Agent ids left in place because processes are still in them. */
  busy: string[];
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PARENT = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export class CgroupManager {
  readonly layout: CgroupLayout;
  readonly parent: string;
  readonly #killMethod: KillMethod;
  /** Agents this manager created or opened and has not removed: a sweep leaves them alone. */
  readonly #live = new Set<string>();

  constructor(layout: CgroupLayout, options: CgroupManagerOptions = {}) {
    const parent = options.parent ?? 'airlock';
    if (!PARENT.test(parent) || parent.split('/').some((s) => s === '.' || s === '..')) {
      throw new CgroupError(CgroupErrorCodes.INVALID_ARGUMENT, `"${parent}" cannot be the agents' parent cgroup`, { hint: 'Use a relative path like airlock or system.slice/airlock.service/agents.' });
    }
    if (!layout.pids || !layout.memory) {
      const missing = [layout.pids ? [] : ['pids'], layout.memory ? [] : ['memory']].flat().join(' and ');
      throw new CgroupError(CgroupErrorCodes.UNSUPPORTED, `the ${missing} cgroup controller is not available (layout: ${layout.kind})`, {
        hint: 'Enable the controller (cgroup2: add it to cgroup.subtree_control; v1: mount it); agents never run without budgets.',
        details: { layout },
      });
    }
    this.layout = layout;
    this.parent = parent;
    this.#killMethod = options.killMethod ?? 'auto';
  }

  /** Creates the agent's cgroups with its budgets set, before any process is in them. */
  async create(id: string, limits: AgentLimits): Promise<AgentCgroup> {
    checkId(id);
    checkLimits(limits);
    const dirs = this.#dirs(id);
    const hierarchies = this.#hierarchies();
    for (const mount of hierarchies) {
      if (await exists(join(mount, this.parent, id))) {
        throw new CgroupError(CgroupErrorCodes.EXISTS, `a cgroup for agent ${id} already exists in ${mount}`, {
          hint: 'Agent ids are unique: pick another, or remove the stale one (`sweep`).',
          details: { dir: join(mount, this.parent, id) },
        });
      }
    }
    try {
      for (const mount of hierarchies) {
        await mkdir(join(mount, this.parent), { recursive: true });
        if (mount === this.layout.unified && this.layout.unifiedControllers.length > 0) await this.#delegateControllers(mount);
        await mkdir(join(mount, this.parent, id));
      }
      await this.#setLimits(dirs, limits);
    } catch (e) {
      await Promise.allSettled(hierarchies.map((m) => removeCgroupTree(join(m, this.parent, id))));
      if (e instanceof CgroupError) throw e;
      throw new CgroupError(CgroupErrorCodes.IO, `cannot create the cgroup of agent ${id}: ${(e as Error).message}`, {
        cause: e,
        hint: 'Run the enforcer as root with cgroupfs mounted read-write.',
      });
    }
    return this.#handle(id, dirs);
  }

  /** An existing agent cgroup (e.g. to list or kill agents from another process). */
  async open(id: string): Promise<AgentCgroup> {
    checkId(id);
    const dirs = this.#dirs(id);
    for (const dir of new Set(Object.values(dirs))) {
      if (!(await exists(dir))) throw new CgroupError(CgroupErrorCodes.NOT_FOUND, `no cgroup for agent ${id} (${dir} is missing)`, { hint: 'List agents with `airlock agents`.' });
    }
    return this.#handle(id, dirs);
  }

  /** Agent ids with a cgroup in any hierarchy. */
  async list(): Promise<string[]> {
    const ids = new Set<string>();
    for (const mount of this.#hierarchies()) for (const id of await childCgroups(join(mount, this.parent))) ids.add(id);
    return [...ids].sort();
  }

  /**
   * After a crash: removes the empty cgroups of agents no longer running
   * (`kill: true` kills and removes the populated ones too). Run it before
   * starting agents; agents of this manager are never touched.
   */
  async sweep(options: { kill?: boolean } = {}): Promise<SweepResult> {
    const result: SweepResult = { removed: [], busy: [] };
    for (const id of await this.list()) {
      if (this.#live.has(id)) continue;
      const stale = this.#handle(id, this.#dirs(id));
      try {
        if (options.kill) await stale.kill();
        // Directories missing in some hierarchies (a crash mid-create) are fine: remove what is there.
        if (await stale.isEmpty()) {
          await stale.remove({ timeoutMs: 1000 });
          result.removed.push(id);
          continue;
        }
      } catch (e) {
        if (!(e instanceof CgroupError) || (e.code !== CgroupErrorCodes.BUSY && e.code !== CgroupErrorCodes.KILL_TIMEOUT)) throw e;
      }
      this.#live.delete(id);
      result.busy.push(id);
    }
    return result;
  }

  #handle(id: string, dirs: AgentCgroupDirs): AgentCgroup {
    this.#live.add(id);
    return new AgentCgroup(id, dirs, this.layout, { killMethod: this.#killMethod, onRemoved: () => this.#live.delete(id) });
  }

  #dirs(id: string): AgentCgroupDirs {
    const at = (mount: string) => join(mount, this.parent, id);
    const { unified, pids, memory, freezer } = this.layout;
    return {
      ...(unified ? { unified: at(unified) } : {}),
      pids: at(pids!.mount),
      memory: at(memory!.mount),
      ...(freezer ? { freezer: at(freezer.mount) } : {}),
    };
  }

  #hierarchies(): string[] {
    const { unified, pids, memory, freezer } = this.layout;
    return [...new Set([unified, pids?.mount, memory?.mount, freezer?.mount].filter((m): m is string => m !== undefined))];
  }

  /** cgroup2 hands a controller to children only when every ancestor lists it in cgroup.subtree_control. */
  async #delegateControllers(mount: string): Promise<void> {
    const wanted = ['pids', 'memory'].filter((c) => this.layout[c as 'pids' | 'memory']?.version === 2);
    let dir = mount;
    for (const segment of ['', ...this.parent.split('/')]) {
      dir = join(dir, segment);
      const enabled = (await readControl(join(dir, 'cgroup.subtree_control'))).split(/\s+/);
      const missing = wanted.filter((c) => !enabled.includes(c));
      if (missing.length > 0) await writeControl(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    }
  }

  async #setLimits(dirs: AgentCgroupDirs, limits: AgentLimits): Promise<void> {
    await writeControl(join(dirs.pids, 'pids.max'), String(limits.maxProcesses));
    const bytes = String(limits.maxMemoryBytes);
    if (this.layout.memory!.version === 2) {
      await writeControl(join(dirs.memory, 'memory.max'), bytes);
      // No swap: the budget is real memory, and swapping would only slow the OOM kill.
      if ((await readOptional(join(dirs.memory, 'memory.swap.max'))) !== undefined) await writeControl(join(dirs.memory, 'memory.swap.max'), '0');
    } else {
      await writeControl(join(dirs.memory, 'memory.limit_in_bytes'), bytes);
      // memsw (memory + swap) equal to the limit means no swap; absent when swap accounting is off.
      if ((await readOptional(join(dirs.memory, 'memory.memsw.limit_in_bytes'))) !== undefined) await writeControl(join(dirs.memory, 'memory.memsw.limit_in_bytes'), bytes);
    }
  }
}

function checkId(id: string): void {
  if (!AGENT_ID.test(id)) {
    throw new CgroupError(CgroupErrorCodes.INVALID_ARGUMENT, `"${id}" cannot name an agent cgroup`, {
      hint: 'Use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.',
    });
  }
}

function checkLimits(limits: AgentLimits): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n > 0;
  if (!ok(limits.maxProcesses) || !ok(limits.maxMemoryBytes)) {
    throw new CgroupError(CgroupErrorCodes.INVALID_ARGUMENT, `invalid budgets: ${JSON.stringify(limits)}`, { hint: 'Budgets come from a compiled policy: positive integers.' });
  }
}
