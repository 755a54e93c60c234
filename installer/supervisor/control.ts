/** Picks how the appliance is started on this host: by systemd, or by our detached supervisor. */
import type { Layout } from '../layout.js';
import { awaitSupervisor, startDetached, stopAll, type Runtime, type StopResult } from './manager.js';
import { installUnit, removeUnit, startUnit, stopUnit, systemdIsInit } from './systemd.js';

export interface ApplianceControl {
  kind: 'systemd' | 'supervisor';
  /** Registers the appliance with the init system (systemd: writes and enables the unit). */
  enable(): Promise<void>;
  disable(): Promise<void>;
  start(): Promise<void>;
  /** Stops everything and proves nothing of the appliance is left running. */
  stop(): Promise<StopResult>;
}

export function applianceControl(layout: Layout, runtime: Runtime, options: { foreground: boolean }): ApplianceControl {
  // The unit's own main process must not ask systemd to stop its unit.
  if (systemdIsInit() && !options.foreground) {
    return {
      kind: 'systemd',
      enable: () => installUnit(layout, runtime),
      disable: () => removeUnit(layout),
      start: async () => {
        await startUnit(layout);
        await awaitSupervisor(layout);
      },
      stop: async () => {
        await stopUnit(layout);
        return stopAll(layout);
      },
    };
  }
  // Without systemd nothing starts us at boot: a container runs `airlock up --foreground` as its entry point.
  return {
    kind: 'supervisor',
    enable: async () => undefined,
    disable: async () => undefined,
    start: () => startDetached(layout, runtime),
    stop: () => stopAll(layout),
  };
}
