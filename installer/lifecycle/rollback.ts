/**
 * Rollback: the operator's explicit choice to run the previous release again.
 * `current` and `previous` swap; journaled, health-checked, and undone if the
 * previous release does not come up. The high-water mark stays where it is:
 * rollback is allowed, installing an older bundle is not.
 */
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { HealthReport } from '../supervisor/health.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { newJournal, writeJournal, type ReleaseRef } from './journal.js';
import { requireRoot } from './privileges.js';
import { recover, type RecoveryResult } from './recovery.js';
import { linkedRelease, refOf } from './releases.js';
import { abandon, commit, switchRelease } from './transition.js';
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
      health = await switchRelease(ctx, journal, from, to);
    } catch (error) {
      throw await abandon(ctx, journal, error);
    }
    await commit(ctx, journal, 'rollback');
    return { prefix: layout.prefix, from, to, health, recovered };
  });
}
