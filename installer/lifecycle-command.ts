/**
 * The base of the appliance lifecycle commands: `--prefix` (default
 * /opt/airlock, or $AIRLOCK_PREFIX), the layout and the pipelines' context.
 */
import { join } from 'node:path';
import { Flags } from '@oclif/core';
import { AirlockCommand } from './base-command.js';
import { DEFAULT_PREFIX, Layout, PREFIX_ENV, resolvePrefix } from './layout.js';
import { lifecycleContext, type ContextOptions, type LifecycleContext } from './lifecycle/index.js';
import type { Runtime } from './supervisor/manager.js';

export const healthTimeoutFlag = Flags.integer({
  description: 'seconds to wait for every service to be healthy (default: etc/airlock.yaml, else 60)',
  min: 1,
  max: 3600,
});

export abstract class LifecycleCommand extends AirlockCommand {
  static override baseFlags = {
    prefix: Flags.string({ description: `install prefix (default ${DEFAULT_PREFIX}, or $${PREFIX_ENV})` }),
  };

  protected layoutFor(flags: { prefix?: string | undefined }): Layout {
    return new Layout(resolvePrefix(flags.prefix));
  }

  /** How the supervisor and systemd units run this very CLI. */
  protected runtime(): Runtime {
    const bins = (this.config.pjson as { bin?: Record<string, string> }).bin;
    const bin = bins?.[this.config.bin];
    if (!bin) throw new Error(`package.json has no bin entry for ${this.config.bin}`);
    return { node: process.execPath, bin: join(this.config.root, bin) };
  }

  protected context(flags: { prefix?: string | undefined; 'health-timeout'?: number | undefined }, options: ContextOptions = {}): Promise<LifecycleContext> {
    return lifecycleContext(this.layoutFor(flags), this.runtime(), {
      note: (line) => this.note(line),
      ...(flags['health-timeout'] !== undefined ? { healthTimeoutSeconds: flags['health-timeout'] } : {}),
      ...options,
    });
  }
}
