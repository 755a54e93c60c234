import { healthTimeoutFlag, LifecycleCommand } from '../lifecycle-command.js';
import { rollback, type RollbackResult } from '../lifecycle/index.js';
import { describeHealth } from '../describe.js';

export default class Rollback extends LifecycleCommand {
  static override summary = 'Go back to the previous release (recorded in the event log).';
  static override description =
    'Swaps current and previous, restarts and waits for health; if the previous release does not come up, the swap is ' +
    'undone. The anti-rollback high-water mark is unchanged: an older bundle still cannot be installed.';
  static override examples = ['<%= config.bin %> rollback'];
  static override flags = { 'health-timeout': healthTimeoutFlag };

  async run(): Promise<RollbackResult> {
    const { flags } = await this.parse(Rollback);
    const result = await rollback(await this.context(flags));
    this.note(`rolled back ${result.from.version} → ${result.to.version}`);
    for (const line of describeHealth(result.health.services)) this.note(line);
    return result;
  }
}
