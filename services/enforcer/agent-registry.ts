/**
 * Records of running agents, one JSON file an agent under the install's
 * run/ directory, written before the agent's cgroup exists and removed after
 * it is gone. A record whose `airlock run` process is dead (checked by pid
 * and start time, so a reused pid does not count) belongs to a crashed run.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AgentRecord {
  id: string;
  policy: { name: string; source: string; sha256: string; onViolation: 'kill' | 'deny'; extends?: string };
  command: string[];
  workspace: string;
  budgets: { maxProcesses: number; maxMemoryBytes: number; timeoutSeconds: number };
  /** The `airlock run` process supervising the agent, and its start time in clock ticks since boot. */
  run: { pid: number; startTicks: number };
  /** The agent's first process, once started. */
  pid?: number;
  /** Its uid (and gid, the same number), its own while it runs, once started. */
  uid?: number;
  startedAt: string;
}

export class AgentRegistry {
  constructor(readonly dir: string) {}

  async write(record: AgentRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await chmod(this.dir, 0o700);
    const file = this.#file(record.id);
    const temp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, file);
  }

  async remove(id: string): Promise<void> {
    await rm(this.#file(id), { force: true });
  }

  /** Every record, split into those of live runs and those of dead ones. */
  async list(): Promise<{ live: AgentRecord[]; stale: AgentRecord[] }> {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const live: AgentRecord[] = [];
    const stale: AgentRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const record = await readFile(join(this.dir, name), 'utf8')
        .then((text) => JSON.parse(text) as AgentRecord)
        .catch(() => undefined);
      if (!record) continue; // removed meanwhile, or cut short: renames make that impossible for ours
      ((await processStartTicks(record.run.pid)) === record.run.startTicks ? live : stale).push(record);
    }
    return { live, stale };
  }

  #file(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command, which may hold spaces); undefined when gone. */
export async function processStartTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : Number(fields[19]);
  } catch {
    return undefined;
  }
}
