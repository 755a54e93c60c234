/**
 * Removes what interrupted work leaves under the prefix: staging folders of
 * a killed extraction, temp files of a write that never got renamed, and
 * releases (with their records) that neither `current` nor `previous` point
 * at — half-extracted ones and those an upgrade superseded. Runs only under
 * the lifecycle lock and with no journal pending, so nothing here is in use.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { syncFolder } from '../durable.js';
import { isDebrisName, type Layout } from '../layout.js';
import { linkedVersion } from './releases.js';

async function entries(folder: string): Promise<string[]> {
  return readdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
    throw error;
  });
}

export async function sweep(layout: Layout): Promise<string[]> {
  const keep = new Set<string>();
  for (const which of ['current', 'previous'] as const) {
    const version = await linkedVersion(layout, which);
    if (version !== undefined) keep.add(version);
  }
  const doomed: string[] = [];
  for (const folder of [layout.prefix, layout.etc, layout.trustDir, layout.var, layout.run]) {
    for (const name of await entries(folder)) if (isDebrisName(name)) doomed.push(join(folder, name));
  }
  for (const name of await entries(layout.releases)) {
    if (isDebrisName(name) || !keep.has(name)) doomed.push(join(layout.releases, name));
  }
  for (const name of await entries(layout.releaseRecords)) {
    const path = join(layout.releaseRecords, name);
    const kept = [...keep].some((version) => layout.releaseRecord(version) === path);
    if (!kept) doomed.push(path);
  }
  for (const path of doomed) await rm(path, { recursive: true, force: true });
  if (doomed.length > 0) {
    for (const folder of new Set(doomed.map((path) => join(path, '..')))) await syncFolder(folder);
  }
  return doomed;
}
