import { LifecycleCommand } from '../lifecycle-command.js';
import { status, type StatusReport } from '../lifecycle/index.js';
import { describeEvent, describeHealth } from '../describe.js';

export default class Status extends LifecycleCommand {
  static override summary = 'Show the installed release, service health and the last lifecycle result.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];

  async run(): Promise<StatusReport> {
    const { flags } = await this.parse(Status);
    const report = await status(await this.context(flags));
    const { current, previous } = report;
    this.note(`release    ${current.name} ${current.version} (sequence ${current.sequence}) at ${report.prefix}: ${report.healthy ? 'healthy' : 'NOT HEALTHY'}`);
    this.note(`previous   ${previous ? `${previous.version} (sequence ${previous.sequence})` : '-'}`);
    this.note(`high-water sequence ${report.highWater ?? '-'}`);
    for (const root of report.trust) this.note(`trust root ${root.subject} (SHA-256 ${root.fingerprint})`);
    this.note(`supervisor ${report.supervisor.running ? `running (pid ${report.supervisor.pid}, since ${report.supervisor.startedAt}) via ${report.control}` : 'not running'}`);
    for (const line of describeHealth(report.services)) this.note(line);
    if (report.lastChange) this.note(`last       ${describeEvent(report.lastChange)}`);
    if (report.pending) this.note(`pending    ${report.pending.op} to ${report.pending.to} stopped after "${report.pending.step}": run \`airlock up\``);
    return report;
  }
}
