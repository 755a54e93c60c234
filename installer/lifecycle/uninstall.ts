/**
 * Uninstall: stop everything, then remove releases, links, etc/, run/ and
 * log/. var/ (state that outlives releases, and the event log) stays unless
 * --purge, which removes the whole prefix.
 */
import { access, lstat, rm } from 'node:fs/promises';
import { removeDurably } from '../durable.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { StopResult } from '../supervisor/manager.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { recordEvent } from './events.js';
import { requireRoot } from './privileges.js';
import { linkedRelease, refOf } from './releases.js';

export interface UninstallOptions {
  purge?: boolean;
}

export interface UninstallResult {
  prefix: string;
  removed: string[];
  kept: string[];
  stopped: StopResult;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Exists as an entry (a dangling link counts). */
async function lexists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

export async function uninstall(ctx: LifecycleContext, options: UninstallOptions = {}): Promise<UninstallResult> {
  requireRoot('uninstall');
  const { layout } = ctx;
  const purge = options.purge ?? false;
  if (purge && layout.prefix === '/') {
    throw new InstallError(InstallErrorCodes.NOT_INSTALLED, 'refusing to purge /', { hint: 'Pass the prefix the appliance was installed into.' });
  }
  return withLifecycleLock(ctx, 'uninstall', async () => {
    const installed = (await exists(layout.releases)) || (await exists(layout.link('current')));
    // --purge removes a whole folder: only one that is recognisably an airlock prefix (never, say, `/`).
    const recognisable = installed || (await exists(layout.events)) || (await exists(layout.sequenceRecord));
    if (!installed && !(purge && recognisable)) {
      throw new InstallError(InstallErrorCodes.NOT_INSTALLED, `nothing is installed under ${layout.prefix}`, {
        hint: recognisable ? 'Only var/ is left; `airlock uninstall --purge` removes it.' : 'Pass the right --prefix.',
      });
    }
    const current = await linkedRelease(layout, 'current').catch(() => undefined);
    ctx.note('stopping the appliance');
    const stopped = await ctx.control.stop();
    await ctx.control.disable();
    // run/ last: the lock's holder record lives there.
    const doomed = [layout.link('current'), layout.link('previous'), layout.journal, layout.releases, layout.etc, layout.log, layout.run];
    const removed: string[] = [];
    for (const path of doomed) if (await lexists(path)) removed.push(path);
    for (const path of doomed) await removeDurably(path);
    await recordEvent(layout, { event: 'uninstall', from: current ? refOf(current) : null, purge });
    if (purge) {
      await rm(layout.prefix, { recursive: true, force: true });
      return { prefix: layout.prefix, removed: [layout.prefix], kept: [], stopped };
    }
    return { prefix: layout.prefix, removed, kept: [layout.var], stopped };
  });
}
