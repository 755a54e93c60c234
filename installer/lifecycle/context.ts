/** What every lifecycle pipeline is given, and the lock they all run under. */
import { readConfig } from '../config.js';
import { ioError } from '../errors.js';
import type { Layout } from '../layout.js';
import { acquireLifecycleLock } from '../lock.js';
import { applianceControl, type ApplianceControl } from '../supervisor/control.js';
import type { Runtime } from '../supervisor/manager.js';

export interface LifecycleContext {
  layout: Layout;
  control: ApplianceControl;
  /** How long to wait for the services to be healthy. */
  healthTimeoutMs: number;
  /** Human progress lines (the CLI sends them to stderr). */
  note: (line: string) => void;
}

export async function withLifecycleLock<T>(ctx: Pick<LifecycleContext, 'layout'>, command: string, work: () => Promise<T>): Promise<T> {
  const lock = await acquireLifecycleLock(ctx.layout, command);
  try {
    return await work();
  } catch (error) {
    throw ioError(error, `running \`airlock ${command}\` on ${ctx.layout.prefix}`);
  } finally {
    await lock.release();
  }
}

export interface ContextOptions {
  /** Overrides etc/airlock.yaml's health.timeoutSeconds. */
  healthTimeoutSeconds?: number;
  /** The caller is the supervisor's own process (`up --foreground`): never go through systemctl. */
  foreground?: boolean;
  note?: (line: string) => void;
}

export async function lifecycleContext(layout: Layout, runtime: Runtime, options: ContextOptions = {}): Promise<LifecycleContext> {
  const seconds = options.healthTimeoutSeconds ?? (await readConfig(layout)).health.timeoutSeconds;
  return {
    layout,
    control: applianceControl(layout, runtime, { foreground: options.foreground ?? false }),
    healthTimeoutMs: seconds * 1000,
    note: options.note ?? (() => undefined),
  };
}
