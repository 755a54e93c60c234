/**
 * The steps install, upgrade and rollback share: prepare state, start and
 * health-check a release, and end the transition — commit it, or undo it and
 * bring back what ran before. Commit and undo are idempotent, so recovery
 * after a crash simply runs them again.
 */
import { mkdir } from 'node:fs/promises';
import { BundleError } from '../../bundle/index.js';
import { readConfig } from '../config.js';
import { removeDurably } from '../durable.js';
import { InstallError, InstallErrorCodes, ioError } from '../errors.js';
import type { Layout } from '../layout.js';
import { firstFailure, waitHealthy, type HealthReport } from '../supervisor/health.js';
import { loadServiceSpecs, resolveServices, type ResolvedService } from '../supervisor/services.js';
import { liveSupervisor } from '../supervisor/state.js';
import { faultPoint } from '../test-hooks.js';
import type { LifecycleContext } from './context.js';
import { recordEvent, type EventName } from './events.js';
import { advance, clearJournal, writeJournal, type Failure, type Journal, type ReleaseRef } from './journal.js';
import { raiseHighWater, setLink } from './releases.js';
import { sweep } from './sweep.js';

/** A release's services as the supervisor will run them (its services.yaml plus etc/airlock.yaml). */
export async function releaseServices(layout: Layout, version: string): Promise<ResolvedService[]> {
  const dir = layout.release(version);
  return resolveServices(layout, dir, await loadServiceSpecs(layout, dir), await readConfig(layout));
}

/**
 * The "migrate" step: state that outlives releases gets ready for the new
 * release's services. Today that is their folders under var/; services that
 * change their on-disk format add their migrations here.
 */
export async function migrateState(layout: Layout, services: ResolvedService[]): Promise<void> {
  for (const folder of [layout.var, layout.serviceStates, layout.run, layout.log]) await mkdir(folder, { recursive: true });
  for (const service of services) await mkdir(layout.serviceState(service.name), { recursive: true, mode: 0o750 });
}

/**
 * Makes sure the supervisor runs `version` (what `current` points at): leaves
 * one that already does alone, replaces one that runs anything else.
 * Returns whether it had to start one.
 */
export async function ensureRunning(ctx: LifecycleContext, version: string): Promise<boolean> {
  const live = await liveSupervisor(ctx.layout);
  if (live?.state === 'running' && live.version === version) return false;
  if (live) {
    ctx.note(`the running supervisor serves ${live.version || 'an unknown release'}, not ${version}: restarting it`);
    await ctx.control.stop();
  }
  ctx.note(`starting ${version}`);
  await ctx.control.start();
  return true;
}

/** Starts what `current` points at and waits for it to be healthy. */
export async function startRelease(ctx: LifecycleContext, journal: Journal): Promise<HealthReport> {
  ctx.note(`starting ${journal.to.version}`);
  await ctx.control.start();
  await advance(ctx.layout, journal, 'started');
  return waitHealthy(ctx.layout, await releaseServices(ctx.layout, journal.to.version), ctx.healthTimeoutMs);
}

/**
 * The middle of an upgrade or rollback: stop what runs, make `from` the
 * previous and `to` the current release, start it and wait until healthy.
 * Throws HEALTH_FAILED (the caller undoes) when it does not come up.
 */
export async function switchRelease(ctx: LifecycleContext, journal: Journal, from: ReleaseRef, to: ReleaseRef): Promise<HealthReport> {
  ctx.note(`stopping ${from.version}`);
  await ctx.control.stop();
  await advance(ctx.layout, journal, 'stopped');
  await setLink(ctx.layout, 'previous', from);
  await setLink(ctx.layout, 'current', to);
  await advance(ctx.layout, journal, 'switched');
  const health = await startRelease(ctx, journal);
  if (!health.healthy) throw healthFailed(to.version, health);
  await advance(ctx.layout, journal, 'healthy');
  return health;
}

export function healthFailed(version: string, report: HealthReport): InstallError {
  const failed = firstFailure(report) ?? { service: '?', reason: 'unhealthy' };
  return new InstallError(InstallErrorCodes.HEALTH_FAILED, `${version} did not become healthy: service ${failed.service}: ${failed.reason}`, {
    details: { ...failed, services: report.services },
  });
}

export async function commit(ctx: LifecycleContext, journal: Journal, event: EventName): Promise<void> {
  const { layout } = ctx;
  if (journal.op !== 'rollback') await raiseHighWater(layout, journal.to);
  faultPoint('commit:high-water');
  await recordEvent(layout, {
    event,
    journal: journal.id,
    from: journal.from,
    to: journal.to,
    ...(event === 'recovered' ? { interrupted: { op: journal.op, step: journal.step }, outcome: 'rolled-forward' as const } : {}),
  });
  await clearJournal(layout);
  faultPoint('commit:journal-cleared');
  await sweep(layout);
}

/**
 * Undoes a transition that did not commit: stops the new release if it may
 * be running, points the links back, removes what the transition extracted
 * and pinned. Does not start anything.
 */
export async function undo(ctx: LifecycleContext, journal: Journal, failure: Failure, event: EventName): Promise<void> {
  const { layout } = ctx;
  if (!journal.failure) {
    journal.failure = failure;
    await writeJournal(layout, journal);
  }
  const live = await liveSupervisor(layout);
  const untouched = live?.state === 'running' && journal.from !== null && live.version === journal.from.version;
  if (live && !untouched) await ctx.control.stop();
  faultPoint('undo:stopped');
  await setLink(layout, 'current', journal.from);
  await setLink(layout, 'previous', journal.previousBefore);
  faultPoint('undo:switched');
  if (journal.extracts) {
    await removeDurably(layout.release(journal.to.version));
    await removeDurably(layout.releaseRecord(journal.to.version));
  }
  if (journal.op === 'install') {
    await ctx.control.disable();
    // The high-water mark stays: it only ever rises on a commit, and it outlives installs.
    for (const pinned of [layout.trustDir, layout.releaseRecords]) await removeDurably(pinned);
  }
  await recordEvent(layout, {
    event,
    journal: journal.id,
    from: journal.from,
    to: journal.to,
    failure: journal.failure,
    ...(event === 'recovered' ? { interrupted: { op: journal.op, step: journal.step }, outcome: 'rolled-back' as const } : {}),
  });
  await clearJournal(layout);
  faultPoint('undo:journal-cleared');
}

function failureOf(error: unknown): Failure {
  if (error instanceof InstallError && error.code === InstallErrorCodes.HEALTH_FAILED) {
    const { service, reason } = error.details as { service?: string; reason?: string };
    return { ...(service ? { service } : {}), reason: reason ?? error.message };
  }
  const code = (error as { code?: unknown }).code;
  return { reason: `${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}` };
}

/**
 * A transition failed before it committed: undo it, restart the release that
 * ran before, and return the error to report — saying what was restored.
 */
export async function abandon(ctx: LifecycleContext, journal: Journal, thrown: unknown): Promise<Error> {
  const error = ioError(thrown, `running the ${journal.op} to ${journal.to.version}`);
  const failure = failureOf(error);
  ctx.note(`${journal.op} of ${journal.to.version} failed (${failure.reason}); undoing it`);
  try {
    await undo(ctx, journal, failure, `${journal.op}-failed`);
  } catch (undoError) {
    // Typically the disk is still full. The old release was not touched before the failure
    // or is restored by `airlock up`; keep the original code, say what is left to do.
    const why = `${error.message}; undoing the ${journal.op} failed too: ${(undoError as Error).message}`;
    const options = { cause: error, hint: 'Fix the cause (often disk space), then run `airlock up`: it finishes the undo.', details: { failure } };
    if (error instanceof InstallError || error instanceof BundleError) {
      const Same = error.constructor as new (code: string, message: string, opts: typeof options) => Error;
      return new Same(error.code, why, options);
    }
    return new InstallError(InstallErrorCodes.IO, why, options);
  }
  let restored: HealthReport | undefined;
  if (journal.from) {
    await ensureRunning(ctx, journal.from.version);
    restored = await waitHealthy(ctx.layout, await releaseServices(ctx.layout, journal.from.version), ctx.healthTimeoutMs);
  }
  if (!(error instanceof InstallError && error.code === InstallErrorCodes.HEALTH_FAILED)) return error;
  const back = journal.from
    ? `rolled back to ${journal.from.version}${restored?.healthy ? ', which is running' : `, which is not healthy either: ${firstFailure(restored!)?.reason}`}`
    : 'nothing was installed';
  return new InstallError(InstallErrorCodes.HEALTH_FAILED, `${error.message}; ${back}`, {
    hint: `See ${failure.service ? ctx.layout.serviceLog(failure.service) : ctx.layout.log} and \`airlock status\`.`,
    details: { ...error.details, rolledBackTo: journal.from, restoredHealthy: restored?.healthy ?? null },
  });
}
