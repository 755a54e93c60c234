/** Free disk where releases land: a bundle is extracted beside the running release before the switch. */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatBytes } from '../progress.js';
import type { CheckGroup } from './types.js';

const FAIL_BELOW = 512 * 1024 ** 2;
const WARN_BELOW = 4 * 1024 ** 3;

/** statfs of the prefix, or of its nearest existing ancestor before the first install. */
async function freeBytes(path: string): Promise<{ at: string; free: number }> {
  for (let at = path; ; at = dirname(at)) {
    const fs = await statfs(at).catch(() => undefined);
    if (fs) return { at, free: fs.bavail * fs.bsize };
    if (at === dirname(at)) throw new Error(`cannot stat any folder above ${path}`);
  }
}

export const diskChecks: CheckGroup = {
  id: 'disk',
  title: 'disk',
  run: async (ctx) => {
    const { at, free } = await freeBytes(ctx.layout.prefix);
    const message = `${formatBytes(free)} free at ${at} (prefix ${ctx.layout.prefix})`;
    if (free < FAIL_BELOW) {
      return [{ id: 'disk.free', status: 'fail', message, hint: `An upgrade needs room for a second release: free at least ${formatBytes(WARN_BELOW)}.` }];
    }
    if (free < WARN_BELOW) {
      return [{ id: 'disk.free', status: 'warn', message, hint: `Bundles with models need several GiB; ${formatBytes(WARN_BELOW)} or more is advised.` }];
    }
    return [{ id: 'disk.free', status: 'pass', message }];
  },
};
