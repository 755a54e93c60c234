import { LifecycleCommand } from '../lifecycle-command.js';
import { down } from '../lifecycle/index.js';
import type { StopResult } from '../supervisor/manager.js';

export default class Down extends LifecycleCommand {
  static override summary = 'Stop the appliance and verify that none of its processes is left.';
  static override examples = ['<%= config.bin %> down'];

  async run(): Promise<StopResult & { prefix: string }> {
    const { flags } = await this.parse(Down);
    const result = await down(await this.context(flags));
    this.note(result.wasRunning ? 'stopped' : 'was not running');
    if (result.killed.length > 0) this.note(`killed ${result.killed.length} leftover process(es): ${result.killed.join(', ')}`);
    return result;
  }
}
