import { Flags } from '@oclif/core';
import { healthTimeoutFlag, LifecycleCommand } from '../lifecycle-command.js';
import { up, upForeground, type UpResult } from '../lifecycle/index.js';
import { describeHealth } from '../describe.js';

export default class Up extends LifecycleCommand {
  static override summary = 'Start the appliance (finishing or undoing any upgrade a crash interrupted).';
  static override description =
    'First finishes a journaled transition that had passed its health check, or undoes one that had not, and removes ' +
    'leftovers of interrupted work. Then starts the supervisor, detached, and waits for health. With --foreground the ' +
    'supervisor runs in this process until SIGTERM (for systemd units and containers).';
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up --foreground'];
  static override flags = {
    foreground: Flags.boolean({ description: 'run the supervisor in this process until SIGTERM/SIGINT', default: false }),
    'health-timeout': healthTimeoutFlag,
  };

  async run(): Promise<UpResult | { prefix: string; version: string }> {
    const { flags } = await this.parse(Up);
    if (flags.foreground) {
      const ctx = await this.context(flags, { foreground: true });
      this.note(`supervising ${ctx.layout.prefix} in the foreground; stop with SIGTERM or \`airlock down\``);
      return upForeground(ctx);
    }
    const result = await up(await this.context(flags));
    this.note(`${result.version} is ${result.started ? 'started' : 'already running'} and healthy`);
    for (const line of describeHealth(result.health.services)) this.note(line);
    return result;
  }
}
