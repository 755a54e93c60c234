import { Flags } from '@oclif/core';
import { LifecycleCommand } from '../lifecycle-command.js';
import { uninstall, type UninstallResult } from '../lifecycle/index.js';

export default class Uninstall extends LifecycleCommand {
  static override summary = 'Stop and remove the appliance; var/ (state, event log) stays unless --purge.';
  static override examples = ['<%= config.bin %> uninstall', '<%= config.bin %> uninstall --purge'];
  static override flags = { purge: Flags.boolean({ description: 'also remove var/ and the prefix itself', default: false }) };

  async run(): Promise<UninstallResult> {
    const { flags } = await this.parse(Uninstall);
    const result = await uninstall(await this.context(flags), { purge: flags.purge });
    this.note(`removed ${result.removed.join(', ')}`);
    if (result.kept.length > 0) this.note(`kept ${result.kept.join(', ')} (\`airlock uninstall --purge\` removes it)`);
    return result;
  }
}
