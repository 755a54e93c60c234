/**
 * `up` and `down`: start the installed release's services (after finishing
 * or undoing any transition a crash interrupted) and stop them, proving that
 * nothing of the appliance is left running.
 */
import { InstallError, InstallErrorCodes } from '../errors.js';
import { waitHealthy, firstFailure, type HealthReport } from '../supervisor/health.js';
import { settleStopping, type StopResult } from '../supervisor/manager.js';
import { liveSupervisor } from '../supervisor/state.js';
import { runSupervisor } from '../supervisor/supervisor.js';
import { withLifecycleLock, type LifecycleContext } from './context.js';
import { requireRoot } from './privileges.js';
import { recover, type RecoveryResult } from './recovery.js';
import { linkedRelease, type ReleaseRecord } from './releases.js';
import { ensureRunning, releaseServices } from './transition.js';
import { notInstalled } from './upgrade.js';

export interface UpResult {
  prefix: string;
  version: string;
  /** False when the appliance was already running. */
  started: boolean;
  health: HealthReport;
  recovered: RecoveryResult;
}

async function prepare(ctx: LifecycleContext): Promise<{ current: ReleaseRecord; recovered: RecoveryResult }> {
  const recovered = await recover(ctx);
  const current = await linkedRelease(ctx.layout, 'current');
  if (!current) throw notInstalled(ctx.layout.prefix);
  // A supervisor caught mid-shutdown (its stopper crashed) is let finish before anything starts.
  await settleStopping(ctx.layout);
  return { current, recovered };
}

export async function up(ctx: LifecycleContext): Promise<UpResult> {
  requireRoot('up');
  const { layout } = ctx;
  return withLifecycleLock(ctx, 'up', async () => {
    const { current, recovered } = await prepare(ctx);
    const started = await ensureRunning(ctx, current.version);
    const health = await waitHealthy(layout, await releaseServices(layout, current.version), ctx.healthTimeoutMs);
    if (!health.healthy) {
      const failed = firstFailure(health);
      throw new InstallError(InstallErrorCodes.HEALTH_FAILED, `${current.version} is not healthy: service ${failed?.service}: ${failed?.reason}`, {
        hint: `The supervisor keeps restarting it; see ${failed ? layout.serviceLog(failed.service) : layout.log}, or \`airlock rollback\`.`,
        details: { ...failed, services: health.services },
      });
    }
    return { prefix: layout.prefix, version: current.version, started, health, recovered };
  });
}

/** Runs the supervisor in this process (systemd's ExecStart, a container's entry point) until SIGTERM. */
export async function upForeground(ctx: LifecycleContext): Promise<{ prefix: string; version: string; recovered: RecoveryResult }> {
  requireRoot('up');
  const { layout } = ctx;
  const { current, recovered } = await withLifecycleLock(ctx, 'up', async () => {
    const prepared = await prepare(ctx);
    if (await liveSupervisor(layout)) {
      throw new InstallError(InstallErrorCodes.START_FAILED, `the appliance under ${layout.prefix} is already running (detached)`, {
        hint: 'Run `airlock down` first to hand it over to the foreground.',
      });
    }
    return prepared;
  });
  // The lock is released first: `down` and `status` must work while this runs.
  await runSupervisor(layout);
  return { prefix: layout.prefix, version: current.version, recovered };
}

export async function down(ctx: LifecycleContext): Promise<StopResult & { prefix: string }> {
  requireRoot('down');
  return withLifecycleLock(ctx, 'down', async () => ({ prefix: ctx.layout.prefix, ...(await ctx.control.stop()) }));
}
