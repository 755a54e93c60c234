/**
 * One agent's cgroups: a directory `<parent>/<agent-id>` in each hierarchy the
 * layout needs (pids, memory, and the cgroup2 one for BPF, kill and freeze).
 * Moves processes in, reads usage, freezes and thaws, kills the whole tree,
 * and removes the directories once empty.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupError, CgroupErrorCodes } from '../errors.js';
import { exists, parseKeyValues, parsePids, readControl, readOptional, removeCgroupTree, writeControl } from './cgroupfs.js';
import type { CgroupLayout, CgroupVersion } from './layout.js';

/** The agent's directory in each hierarchy; the same directory may serve several roles. */
export interface AgentCgroupDirs {
  /** cgroup2 directory: attach BPF programs here. */
  unified?: string;
  pids: string;
  memory: string;
  freezer?: string;
}

export interface CgroupUsage {
  pids: {
    current: number;
    /** null: no limit. */
    max: number | null;
    /** Highest count seen, where the kernel keeps it (pids.peak). */
    peak?: number;
    /** How often a fork or clone failed at the limit (pids.events "max"). */
    forkFailures: number;
  };
  memory: {
    currentBytes: number;
    /** Highest usage seen (memory.peak / memory.max_usage_in_bytes), where the kernel keeps it. */
    peakBytes?: number;
    maxBytes: number | null;
    /** Processes the kernel's OOM killer ended in this cgroup. */
    oomKills: number;
  };
  frozen: boolean;
}

export interface WaitOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
}

export type KillMethod = 'auto' | 'signal';

const POLL_MS = 10;
/** v1 reports "no limit" as a huge page-rounded number. */
const V1_UNLIMITED = 2 ** 62;

export class AgentCgroup {
  readonly #layout: CgroupLayout;
  readonly #killMethod: KillMethod;
  readonly #onRemoved: () => void;

  constructor(
    readonly id: string,
    readonly dirs: AgentCgroupDirs,
    layout: CgroupLayout,
    options: { killMethod: KillMethod; onRemoved: () => void },
  ) {
    this.#layout = layout;
    this.#killMethod = options.killMethod;
    this.#onRemoved = options.onRemoved;
  }

  /** Every distinct directory of this agent, one per hierarchy. */
  get allDirs(): string[] {
    return [...new Set([this.dirs.unified, this.dirs.pids, this.dirs.memory, this.dirs.freezer].filter((d): d is string => d !== undefined))];
  }

  /** The cgroup2 directory for BPF cgroup programs, when the host has one. */
  get bpfAttachPath(): string | undefined {
    return this.dirs.unified;
  }

  /** Moves a process (all its threads) into the agent's cgroup in every hierarchy. */
  async addProcess(pid: number): Promise<void> {
    if (!Number.isInteger(pid) || pid <= 0) throw new CgroupError(CgroupErrorCodes.INVALID_ARGUMENT, `"${pid}" is not a process id`, { hint: 'Pass the pid of a running process.' });
    for (const dir of this.allDirs) await writeControl(join(dir, 'cgroup.procs'), String(pid));
  }

  /** Processes in the cgroup now (none when its directory is gone). */
  async pids(): Promise<number[]> {
    return parsePids((await readOptional(join(this.#membershipDir, 'cgroup.procs'))) ?? '');
  }

  async isEmpty(): Promise<boolean> {
    const events = this.dirs.unified && (await readOptional(join(this.dirs.unified, 'cgroup.events')));
    if (events) return parseKeyValues(events).get('populated') === 0;
    return (await this.pids()).length === 0;
  }

  async usage(): Promise<CgroupUsage> {
    const v = (c: 'pids' | 'memory'): CgroupVersion => this.#layout[c]!.version;
    const p = this.dirs.pids;
    const m = this.dirs.memory;
    const pidsEvents = parseKeyValues((await readOptional(join(p, 'pids.events'))) ?? '');
    const peak = await readOptional(join(p, 'pids.peak'));
    const memV2 = v('memory') === 2;
    const memPeak = await readOptional(join(m, memV2 ? 'memory.peak' : 'memory.max_usage_in_bytes'));
    const oom = parseKeyValues((await readOptional(join(m, memV2 ? 'memory.events' : 'memory.oom_control'))) ?? '');
    const memMax = limit(await readControl(join(m, memV2 ? 'memory.max' : 'memory.limit_in_bytes')));
    return {
      pids: {
        current: Number(await readControl(join(p, 'pids.current'))),
        max: limit(await readControl(join(p, 'pids.max'))),
        ...(peak !== undefined ? { peak: Number(peak) } : {}),
        forkFailures: pidsEvents.get('max') ?? 0,
      },
      memory: {
        currentBytes: Number(await readControl(join(m, memV2 ? 'memory.current' : 'memory.usage_in_bytes'))),
        ...(memPeak !== undefined ? { peakBytes: Number(memPeak) } : {}),
        maxBytes: memMax,
        oomKills: oom.get('oom_kill') ?? 0,
      },
      frozen: this.dirs.freezer ? await this.isFrozen() : false,
    };
  }

  /** Stops every process of the tree where it stands (the review gate); new children are frozen too. */
  async freeze(options: WaitOptions = {}): Promise<void> {
    await this.#setFrozen(true, options);
  }

  async thaw(options: WaitOptions = {}): Promise<void> {
    await this.#setFrozen(false, options);
  }

  async isFrozen(): Promise<boolean> {
    const { version, dir } = this.#freezer();
    if (version === 2) return parseKeyValues(await readControl(join(dir, 'cgroup.events'))).get('frozen') === 1;
    return (await readControl(join(dir, 'freezer.state'))) === 'FROZEN';
  }

  /**
   * Kills every process of the tree, wherever it moved in the process
   * hierarchy (double-forked daemons, new sessions): cgroup.kill where the
   * kernel has it (5.14+), else freeze, SIGKILL each member, thaw, until empty.
   * Resolves once the cgroup is empty.
   */
  async kill(options: WaitOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    const killFile = this.dirs.unified && join(this.dirs.unified, 'cgroup.kill');
    if (this.#killMethod === 'auto' && killFile && (await exists(killFile))) {
      await writeControl(killFile, '1');
    } else {
      await this.#killBySignal(deadline);
    }
    if (!(await this.#waitEmpty(deadline))) {
      throw new CgroupError(CgroupErrorCodes.KILL_TIMEOUT, `the processes of agent ${this.id} did not all die in time`, {
        hint: 'A process stuck in uninterruptible sleep (D state) cannot die until its I/O ends; check `ps -o pid,stat,wchan` for the pids listed.',
        details: { pids: await this.pids() },
      });
    }
  }

  /** Waits until the cgroup is empty, then removes its directory in every hierarchy. */
  async remove(options: WaitOptions = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    if (!(await this.#waitEmpty(deadline))) {
      throw new CgroupError(CgroupErrorCodes.BUSY, `the cgroup of agent ${this.id} still has processes`, {
        hint: 'Kill the agent (destroy) before removing its cgroup.',
        details: { pids: await this.pids() },
      });
    }
    for (const dir of this.allDirs) {
      // The v1 hierarchies can lag the cgroup2 one by a moment after the last exit.
      for (;;) {
        try {
          await removeCgroupTree(dir);
          break;
        } catch (e) {
          if (!(e instanceof CgroupError) || e.code !== CgroupErrorCodes.BUSY || Date.now() > deadline) throw e;
          await sleep(POLL_MS);
        }
      }
    }
    this.#onRemoved();
  }

  /** Kill and remove: what ending an agent does. */
  async destroy(options: WaitOptions = {}): Promise<void> {
    await this.kill(options);
    await this.remove(options);
  }

  get #membershipDir(): string {
    return this.dirs.unified ?? this.dirs.pids;
  }

  #freezer(): { version: CgroupVersion; dir: string } {
    if (!this.dirs.freezer || !this.#layout.freezer) {
      throw new CgroupError(CgroupErrorCodes.UNSUPPORTED, 'this host has no cgroup freezer', {
        hint: 'Freezing needs cgroup2 (cgroup.freeze, Linux 5.2+) or the v1 freezer controller mounted.',
      });
    }
    return { version: this.#layout.freezer.version, dir: this.dirs.freezer };
  }

  async #setFrozen(frozen: boolean, options: WaitOptions): Promise<void> {
    const { version, dir } = this.#freezer();
    if (version === 2) await writeControl(join(dir, 'cgroup.freeze'), frozen ? '1' : '0');
    else await writeControl(join(dir, 'freezer.state'), frozen ? 'FROZEN' : 'THAWED');
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    while ((await this.isFrozen()) !== frozen) {
      if (Date.now() > deadline) {
        throw new CgroupError(CgroupErrorCodes.FREEZE_TIMEOUT, `agent ${this.id} did not ${frozen ? 'freeze' : 'thaw'} in time`, {
          hint: 'A process in uninterruptible sleep delays freezing; retry, or kill the agent.',
          details: { dir },
        });
      }
      await sleep(POLL_MS);
    }
  }

  async #killBySignal(deadline: number): Promise<void> {
    // Frozen, nobody can fork between reading the list and the signals landing.
    const canFreeze = this.dirs.freezer !== undefined;
    while (!(await this.isEmpty()) && Date.now() <= deadline) {
      // Best effort: a freeze that times out (a task in D state) still lets the signals go.
      if (canFreeze) await this.freeze({ timeoutMs: Math.max(0, deadline - Date.now()) }).catch(() => undefined);
      for (const pid of await this.pids()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
        }
      }
      // A v1-frozen process dies only once thawed.
      if (canFreeze) await this.thaw({ timeoutMs: Math.max(0, deadline - Date.now()) }).catch(() => undefined);
      await sleep(POLL_MS);
    }
  }

  async #waitEmpty(deadline: number): Promise<boolean> {
    for (;;) {
      if (await this.isEmpty()) return true;
      if (Date.now() > deadline) return false;
      await sleep(POLL_MS);
    }
  }
}

function limit(text: string): number | null {
  if (text === 'max') return null;
  const n = Number(text);
  return n >= V1_UNLIMITED ? null : n;
}
