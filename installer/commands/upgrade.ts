import { Args } from '@oclif/core';
import { healthTimeoutFlag, LifecycleCommand } from '../lifecycle-command.js';
import { upgrade, type UpgradeResult } from '../lifecycle/index.js';
import { describeHealth } from '../describe.js';

export default class Upgrade extends LifecycleCommand {
  static override summary = 'Upgrade to a newer bundle; rolls back by itself if the new release is not healthy.';
  static override description =
    "Verifies FILE against the trust pinned at install and refuses a sequence not above the installed high-water mark " +
    '(INSTALL_DOWNGRADE). Journaled: intent, extract, migrate, stop, switch, start, health check, commit; on any failure ' +
    'the previous release is switched back and restarted, and the reason is recorded (see `airlock status`).';
  static override examples = ['<%= config.bin %> upgrade airlock-0.2.0.airlock', '<%= config.bin %> upgrade airlock-0.2.0.airlock --health-timeout 120 --json'];
  static override args = { file: Args.file({ description: 'bundle file', required: true, exists: true }) };
  static override flags = { 'health-timeout': healthTimeoutFlag };

  async run(): Promise<UpgradeResult> {
    const { args, flags } = await this.parse(Upgrade);
    const ctx = await this.context(flags);
    const progress = this.progress('extracting');
    try {
      const result = await upgrade(args.file, ctx, { onProgress: progress.update });
      progress.done();
      this.note(`upgraded ${result.from.version} → ${result.release.version} (sequence ${result.release.sequence})`);
      for (const line of describeHealth(result.health.services)) this.note(line);
      return result;
    } finally {
      progress.done();
    }
  }
}
