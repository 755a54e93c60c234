import { LifecycleCommand } from '../lifecycle-command.js';
import { requireRoot } from '../lifecycle/index.js';
import { runSupervisor } from '../supervisor/supervisor.js';

/** What `airlock up` launches detached. Not for direct use: it takes no lock and does no recovery. */
export default class Supervise extends LifecycleCommand {
  static override hidden = true;
  static override summary = 'Run the supervisor (internal: started by `airlock up`).';

  async run(): Promise<void> {
    const { flags } = await this.parse(Supervise);
    requireRoot('supervise');
    await runSupervisor(this.layoutFor(flags));
  }
}
