/**
 * Rollback: the operator's explicit choice to run the previous release again.
 * `current` and `previous` swap; journaled, health-checked, and undone if the
 * previous release does not come up. The high-water mark stays where it is:
 * rollback is allowed, installing an older bundle is not.
 */
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { HealthReport } from '../supervisor/health.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { advance, newJournal, writeJournal, type ReleaseRef } from './journal.js';
import { requireRoot } from './privileges.js';
import { recover, type RecoveryResult } from './recovery.js';
import { linkedRelease, refOf, setLink } from './releases.js';
import { abandon, commit, healthFailed, startRelease } from './transition.js';
import { notInstalled } from './upgrade.js';

export interface RollbackResult {
  prefix: string;
  from: ReleaseRef;
  to: ReleaseRef;
  health: HealthReport;
  recovered: RecoveryResult;
}

export async function rollback(ctx: LifecycleContext): Promise<RollbackResult> {
  requireRoot('rollback');
  const { layout } = ctx;
  return withLifecycleLock(ctx, 'rollback', async () => {
    const recovered = await recover(ctx);
    const current = await linkedRelease(layout, 'current');
    if (!current) throw notInstalled(layout.prefix);
    const previous = await linkedRelease(layout, 'previous');
    if (!previous) {
      throw new InstallError(InstallErrorCodes.NO_PREVIOUS, `there is no previous release to roll back to (current is ${current.version})`, {
        hint: 'A previous release exists after an upgrade; `airlock status` shows it.',
      });
    }
    const from = refOf(current);
    const to = refOf(previous);
    const journal = newJournal({ op: 'rollback', from, previousBefore: to, to, extracts: false });
    await writeJournal(layout, journal);
    let health: HealthReport;
    try {
      ctx.note(`stopping ${from.version}`);
      await ctx.control.stop();
      await advance(layout, journal, 'stopped');
      await setLink(layout, 'previous', from);
      await setLink(layout, 'current', to);
      await advance(layout, journal, 'switched');
      health = await startRelease(ctx, journal);
      if (!health.healthy) throw healthFailed(to.version, health);
      await advance(layout, journal, 'healthy');
    } catch (error) {
      throw await abandon(ctx, journal, error);
    }
    await commit(ctx, journal, 'rollback');
    return { prefix: layout.prefix, from, to, health, recovered };
  });
}
