/**
 * Reading and writing cgroup control files, with failures turned into
 * CGROUP_IO errors that name the file. The only module here that touches
 * cgroupfs directly.
 */
import { access, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CgroupError, CgroupErrorCodes } from '../errors.js';

export async function readControl(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw ioError(`cannot read ${file}`, e, { file });
  }
}

/** Like readControl, but undefined when the file does not exist (older kernels lack some). */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read ${file}`, e, { file });
  }
}

export async function writeControl(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (e) {
    throw ioError(`cannot write "${value}" to ${file}`, e, { file, value });
  }
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** `key value` lines (memory.events, pids.events, memory.oom_control, cgroup.events) as a map. */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** The pids listed in a cgroup.procs file. */
export function parsePids(text: string): number[] {
  return text.split('\n').filter(Boolean).map(Number);
}

/** Sub-cgroups of a directory (cgroupfs directories are cgroups; files are controls). */
export async function childCgroups(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`cannot list ${dir}`, e, { dir });
  }
}

/** rmdir a cgroup and its sub-cgroups, deepest first. Missing is fine; EBUSY means it still has processes. */
export async function removeCgroupTree(dir: string): Promise<void> {
  for (const child of await childCgroups(dir)) await removeCgroupTree(join(dir, child));
  try {
    await rmdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    const busy = (e as NodeJS.ErrnoException).code === 'EBUSY';
    throw new CgroupError(busy ? CgroupErrorCodes.BUSY : CgroupErrorCodes.IO, `cannot remove the cgroup ${dir}: ${(e as Error).message}`, {
      cause: e,
      hint: busy ? 'Processes are still in it: kill the agent first.' : 'Run the enforcer as root with cgroupfs mounted read-write.',
      details: { dir },
    });
  }
}

function ioError(message: string, cause: unknown, details: Record<string, unknown>): CgroupError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new CgroupError(CgroupErrorCodes.IO, `${message}: ${(cause as Error).message}`, {
    cause,
    hint: code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'Run the enforcer as root with cgroupfs mounted read-write.' : 'Check the cgroup layout with `airlock doctor`.',
    details: { ...details, errno: code },
  });
}
