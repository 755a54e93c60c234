/**
 * Upgrade: intent → extract → migrate → stop → switch → start → health check
 * → commit, each step journaled; on any failure before commit the old release
 * is switched back and restarted, and the event log says why. A bundle whose
 * sequence is not above the high-water mark is refused before anything changes.
 */
import { verifyBundleHeader } from '../../bundle/index.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { HealthReport } from '../supervisor/health.js';
import { assertReleaseFits, extractAndRecord } from './bundle-source.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { advance, newJournal, writeJournal, type ReleaseRef } from './journal.js';
import { requireRoot } from './privileges.js';
import { recover, type RecoveryResult } from './recovery.js';
import { assertAboveHighWater, linkedRelease, refOf, type ReleaseRecord } from './releases.js';
import { abandon, commit, migrateState, releaseServices, switchRelease } from './transition.js';
import { loadPinnedTrust } from './trust.js';

export interface UpgradeOptions {
  onProgress?: (done: number, total: number) => void;
}

export interface UpgradeResult {
  prefix: string;
  from: ReleaseRef;
  release: ReleaseRecord;
  health: HealthReport;
  recovered: RecoveryResult;
}

export function notInstalled(prefix: string): InstallError {
  return new InstallError(InstallErrorCodes.NOT_INSTALLED, `nothing is installed under ${prefix}`, {
    hint: 'Install first: `airlock install FILE --trust ROOT` (or pass the right --prefix).',
  });
}

export async function upgrade(file: string, ctx: LifecycleContext, options: UpgradeOptions = {}): Promise<UpgradeResult> {
  requireRoot('upgrade');
  const { layout } = ctx;
  return withLifecycleLock(ctx, 'upgrade', async () => {
    const recovered = await recover(ctx);
    const current = await linkedRelease(layout, 'current');
    if (!current) throw notInstalled(layout.prefix);
    const previous = await linkedRelease(layout, 'previous');
    const trust = await loadPinnedTrust(layout);
    const header = await verifyBundleHeader(file, { trust });
    const to = refOf(header.manifest);
    await assertAboveHighWater(layout, file, to, current.sequence);
    if (to.version === current.version || to.version === previous?.version) {
      throw new InstallError(InstallErrorCodes.RELEASE_EXISTS, `release ${to.version} is already installed (as ${to.version === current.version ? 'current' : 'previous'})`, {
        hint: 'Give the new bundle a new version as well as a higher sequence.',
      });
    }
    await assertReleaseFits(layout, header);
    const from = refOf(current);
    const journal = newJournal({ op: 'upgrade', from, previousBefore: previous ? refOf(previous) : null, to, extracts: true });
    await writeJournal(layout, journal);
    let record: ReleaseRecord;
    let health: HealthReport;
    try {
      record = await extractAndRecord(ctx, file, journal, { trust, expected: header, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      // A release whose services.yaml is broken is refused here, while the old one still runs.
      await migrateState(layout, await releaseServices(layout, to.version));
      await advance(layout, journal, 'migrated');
      health = await switchRelease(ctx, journal, from, to);
    } catch (error) {
      throw await abandon(ctx, journal, error);
    }
    await commit(ctx, journal, 'upgrade');
    return { prefix: layout.prefix, from, release: record, health, recovered };
  });
}
