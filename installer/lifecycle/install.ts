/**
 * First install: verify the bundle against the operator's --trust, extract
 * it into releases/<version>, pin the trust, prepare var/, point `current`
 * at it, start it and wait until it is healthy. Journaled like an upgrade;
 * on failure nothing is left installed (var/ and log/ stay for diagnosis).
 */
import { mkdir } from 'node:fs/promises';
import { loadTrust, verifyBundleHeader } from '../../bundle/index.js';
import { ensureConfig } from '../config.js';
import { InstallError, InstallErrorCodes } from '../errors.js';
import type { HealthReport } from '../supervisor/health.js';
import { assertReleaseFits, extractAndRecord } from './bundle-source.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { advance, newJournal, writeJournal } from './journal.js';
import { requireRoot } from './privileges.js';
import { recover, type RecoveryResult } from './recovery.js';
import { assertAboveHighWater, linkedVersion, refOf, setLink, type ReleaseRecord } from './releases.js';
import { abandon, commit, healthFailed, migrateState, releaseServices, startRelease } from './transition.js';
import { pinTrust, type PinnedRoot } from './trust.js';

export interface InstallOptions {
  /** Root certificate file, or a folder of roots (and revocations.json), to pin. */
  trust: string;
  /** Start the services and wait for health (default true). */
  start?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface InstallResult {
  prefix: string;
  release: ReleaseRecord;
  trust: PinnedRoot[];
  started: boolean;
  control: 'systemd' | 'supervisor';
  health?: HealthReport;
  recovered: RecoveryResult;
}

export async function installBundle(file: string, ctx: LifecycleContext, options: InstallOptions): Promise<InstallResult> {
  requireRoot('install');
  const { layout } = ctx;
  return withLifecycleLock(ctx, 'install', async () => {
    const recovered = await recover(ctx);
    const installed = await linkedVersion(layout, 'current');
    if (installed !== undefined) {
      throw new InstallError(InstallErrorCodes.ALREADY_INSTALLED, `${installed} is already installed under ${layout.prefix}`, {
        hint: 'Use `airlock upgrade FILE` for a newer bundle, or `airlock uninstall` first.',
        details: { installed },
      });
    }
    const trust = await loadTrust(options.trust);
    const header = await verifyBundleHeader(file, { trust });
    const to = refOf(header.manifest);
    await assertAboveHighWater(layout, file, to);
    await mkdir(layout.releases, { recursive: true });
    await mkdir(layout.var, { recursive: true });
    await assertReleaseFits(layout, header);
    const journal = newJournal({ op: 'install', from: null, previousBefore: null, to, extracts: true });
    await writeJournal(layout, journal);
    const start = options.start ?? true;
    let record: ReleaseRecord;
    let pinned: PinnedRoot[];
    let health: HealthReport | undefined;
    try {
      record = await extractAndRecord(ctx, file, journal, { trust, expected: header, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
      const services = await releaseServices(layout, to.version);
      pinned = await pinTrust(layout, options.trust, trust);
      await ensureConfig(layout);
      await migrateState(layout, services);
      await advance(layout, journal, 'migrated');
      // Nothing of ours should run yet; make sure no stray of an earlier install holds a port.
      await ctx.control.stop();
      await advance(layout, journal, 'stopped');
      await setLink(layout, 'current', to);
      await ctx.control.enable();
      await advance(layout, journal, 'switched');
      if (start) {
        health = await startRelease(ctx, journal);
        if (!health.healthy) throw healthFailed(to.version, health);
      }
      await advance(layout, journal, 'healthy');
    } catch (error) {
      throw await abandon(ctx, journal, error);
    }
    await commit(ctx, journal, 'install');
    return {
      prefix: layout.prefix,
      release: record,
      trust: pinned,
      started: start,
      control: ctx.control.kind,
      ...(health ? { health } : {}),
      recovered,
    };
  });
}
