/**
 * Processes seen through /proc. A pid alone can be reused by an unrelated
 * process after ours exits, so every pid we record travels with its start
 * time (field 22 of /proc/<pid>/stat) and is only signalled when both match.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { readJsonIfExists, writeJsonAtomic } from '../durable.js';

export interface ProcessId {
  pid: number;
  /** Clock ticks since boot at which the process started. */
  start: string;
}

interface StatFields {
  state: string;
  pgid: number;
  start: string;
}

async function readStat(pid: number): Promise<StatFields | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); field N is fields[N - 3].
  return { state: fields[0]!, pgid: Number(fields[2]), start: fields[19]! };
}

export async function identify(pid: number): Promise<ProcessId | undefined> {
  const stat = await readStat(pid);
  return stat ? { pid, start: stat.start } : undefined;
}

/** True while the very process `id` names is alive (a zombie is not). */
export async function isAlive(id: ProcessId): Promise<boolean> {
  const stat = await readStat(id.pid);
  return stat !== undefined && stat.start === id.start && stat.state !== 'Z' && stat.state !== 'X';
}

export async function writePidFile(path: string, id: ProcessId): Promise<void> {
  await writeJsonAtomic(path, id, { durable: false });
}

export async function readPidFile(path: string): Promise<ProcessId | undefined> {
  const raw = (await readJsonIfExists(path).catch(() => undefined)) as Partial<ProcessId> | undefined;
  if (!raw || !Number.isInteger(raw.pid) || typeof raw.start !== 'string') return undefined;
  return { pid: raw.pid!, start: raw.start };
}

export async function removePidFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Signals a whole process group; quiet when it is already gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Every live process whose environment carries `marker` (NAME=value). The
 * supervisor and all services get it, and children inherit it, so this finds
 * strays that left their process group too.
 */
export async function findMarked(marker: string): Promise<Array<ProcessId & { pgid: number }>> {
  const found: Array<ProcessId & { pgid: number }> = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => undefined);
    if (!environ?.split('\0').includes(marker)) continue;
    const stat = await readStat(pid);
    if (stat && stat.state !== 'Z' && stat.state !== 'X') found.push({ pid, start: stat.start, pgid: stat.pgid });
  }
  return found;
}

/** Waits until none of `ids` is alive; returns the survivors at the deadline. */
export async function waitGone(ids: ProcessId[], timeoutMs: number): Promise<ProcessId[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive: ProcessId[] = [];
    for (const id of ids) if (await isAlive(id)) alive.push(id);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await sleep(50);
  }
}
