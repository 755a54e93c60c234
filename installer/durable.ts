/**
 * Crash-safe file primitives. A reader sees either the old or the new
 * version of a record or a link, never a mix: new content goes to a hidden
 * temp name beside the target, reaches the disk, and is renamed over it; the
 * folder is then flushed so the rename itself survives a power cut.
 * Temp names match `isDebrisName`, so recovery can sweep what a crash left.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, symlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { tempPathFor } from './layout.js';
import { faultPoint } from './test-hooks.js';

export async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface WriteOptions {
  mode?: number;
  /** fsync the file and its folder (default true); off for run/ files nobody needs after a reboot. */
  durable?: boolean;
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const durable = options.durable ?? true;
  const temp = tempPathFor(path);
  try {
    const handle = await open(temp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    faultPoint('atomic-write:before-rename');
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (durable) await syncFolder(dirname(path));
}

export async function writeJsonAtomic(path: string, value: unknown, options: WriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);
}

/** Points `link` at `target` in one step: a temp symlink renamed over the old one. */
export async function switchSymlink(link: string, target: string): Promise<void> {
  const temp = tempPathFor(link);
  await symlink(target, temp);
  faultPoint('symlink:before-rename');
  try {
    await rename(temp, link);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncFolder(dirname(link));
}

export async function removeDurably(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  await syncFolder(dirname(path)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/**
 * Appends one line and flushes it. A crash can leave a torn last line; the
 * next append starts on a fresh line so a torn line never swallows a good one.
 */
export async function appendLineDurably(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o644);
  let size: number;
  try {
    ({ size } = await handle.stat());
    let lead = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) lead = '\n';
    }
    await handle.write(`${lead}${line}\n`);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  // A new file's folder entry must reach the disk too.
  if (size === 0) await syncFolder(dirname(path));
}

/** Reads a JSON file, or undefined when it does not exist. */
export async function readJsonIfExists(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  return text === undefined ? undefined : (JSON.parse(text) as unknown);
}
