/**
 * `status`: what is installed and how it is doing — current and previous
 * release, the high-water mark, the pinned trust, each service's health and
 * port (with the reason when unhealthy), the last lifecycle result, and any
 * transition a crash left for `airlock up` to finish. Read-only, no lock.
 */
import { checkHealth, type ServiceHealth } from '../supervisor/health.js';
import { liveSupervisor } from '../supervisor/state.js';
import type { LifecycleContext } from './context.js';
import { readEvents, type LifecycleEvent } from './events.js';
import { readJournal, type Operation, type Step } from './journal.js';
import { linkedRelease, readSequenceRecord, type ReleaseRecord } from './releases.js';
import { releaseServices } from './transition.js';
import { pinnedRoots, type PinnedRoot } from './trust.js';
import { notInstalled } from './upgrade.js';

export interface StatusReport {
  prefix: string;
  current: ReleaseRecord;
  previous: ReleaseRecord | null;
  /** The highest sequence ever committed: bundles at or below it are refused. */
  highWater: number | null;
  trust: PinnedRoot[];
  control: 'systemd' | 'supervisor';
  supervisor: { running: boolean; pid?: number; startedAt?: string; version?: string };
  healthy: boolean;
  services: ServiceHealth[];
  /** The most recent install, upgrade, rollback or recovery, with its failure if it failed. */
  lastChange: LifecycleEvent | null;
  /** A transition a crash interrupted; `airlock up` finishes or undoes it. */
  pending: { op: Operation; step: Step; to: string; since: string } | null;
}

export async function status(ctx: LifecycleContext): Promise<StatusReport> {
  const { layout } = ctx;
  const current = await linkedRelease(layout, 'current');
  if (!current) throw notInstalled(layout.prefix);
  const supervisor = await liveSupervisor(layout);
  const health = await checkHealth(layout, await releaseServices(layout, current.version));
  const events = await readEvents(layout);
  const journal = await readJournal(layout);
  return {
    prefix: layout.prefix,
    current,
    previous: (await linkedRelease(layout, 'previous')) ?? null,
    highWater: (await readSequenceRecord(layout))?.highWater ?? null,
    trust: await pinnedRoots(layout),
    control: ctx.control.kind,
    supervisor: supervisor
      ? { running: true, pid: supervisor.pid, startedAt: supervisor.startedAt, version: supervisor.version }
      : { running: false },
    healthy: health.healthy,
    services: health.services,
    lastChange: events.filter((e) => e.event !== 'uninstall').at(-1) ?? null,
    pending: journal ? { op: journal.op, step: journal.step, to: journal.to.version, since: journal.startedAt } : null,
  };
}
